package cli

import (
	"log/slog"
	"os"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/internal/secrets"
)

// secretsFileFlag names the file a worker resolves {{ssm-secure:NAME}} references from.
func secretsFileFlag() ucli.Flag {
	return &ucli.StringFlag{Name: "secrets-file", Usage: "file of secrets that {{ssm-secure:NAME}} parameter values resolve to on this worker: NAME=value lines or a YAML mapping, mode 0600 (STEAD_SECRET_<NAME> variables add to it)"}
}

// loadWorkerSecrets reads the worker's secrets at start, so a bad file stops the worker
// at once rather than failing steps later. It logs how many secrets it holds, never a
// name or value.
func loadWorkerSecrets(c *ucli.Context, logger *slog.Logger) (*secrets.Store, error) {
	s, err := secrets.Load(c.String("secrets-file"), os.Environ())
	if err != nil {
		return nil, err
	}
	if s.Len() > 0 {
		logger.Info("secrets loaded", "count", s.Len())
	}
	return s, nil
}

// warnIfRoot logs one warning when the worker runs as root: the worker holds SSH keys
// and secrets and runs what operators ask on nodes, so a flaw in it or in a library it
// uses should not also own its own machine. It is a warning, not a refusal, because
// containers and CI commonly run everything as root.
func warnIfRoot(logger *slog.Logger) {
	if os.Geteuid() == 0 {
		logger.Warn("stead worker is running as root; run it as a dedicated non-root user")
	}
}
