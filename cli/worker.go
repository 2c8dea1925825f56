package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/worker"
)

// workerFlags configure how a worker reaches nodes.
func workerFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringSliceFlag{Name: "credential", Usage: "NAME=PATH of an SSH private key (or NAME=agent for ssh-agent) nodes can name; 'default' is used by nodes that name none (repeatable)"},
		&ucli.StringFlag{Name: "known-hosts", Usage: "known_hosts file for nodes without a pinned host key (default ~/.ssh/known_hosts if it exists)"},
		&ucli.IntFlag{Name: "max-concurrent-steps", Usage: "steps this worker runs at once", Value: 200},
		&ucli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error", Value: "info"},
	}
}

func workerCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "worker",
		Usage: "run a worker that executes associations against a Temporal cluster",
		Flags: append(append([]ucli.Flag{
			&ucli.StringFlag{Name: "region", Usage: "region whose nodes this worker reaches (default: nodes without a region)"},
		}, workerFlags()...), connectFlags()...),
		Action: func(c *ucli.Context) error {
			logger, err := newLogger(c.App.ErrWriter, c.String("log-level"))
			if err != nil {
				return err
			}
			cn, err := connect(c)
			if err != nil {
				return err
			}
			defer cn.client.Close()
			logger.Info("worker started", "address", c.String("address"), "namespace", cn.namespace, "region", regionOrDefault(c.String("region")))
			return runWorker(c, cn, logger, c.String("region"))
		},
	}
}

func regionOrDefault(r string) string {
	if r == "" {
		return "default"
	}
	return r
}

// runWorker serves Stead's task queues until the command's context ends.
func runWorker(c *ucli.Context, cn *conn, logger *slog.Logger, region string) error {
	creds, err := transport.ParseCredentialFlags(c.StringSlice("credential"))
	if err != nil {
		return err
	}
	known := c.String("known-hosts")
	if known == "" {
		if home, err := os.UserHomeDir(); err == nil {
			if p := filepath.Join(home, ".ssh", "known_hosts"); fileExists(p) {
				known = p
			}
		}
	}
	dialer, err := transport.NewSSHDialer(transport.SSHConfig{Credentials: creds, KnownHostsFile: known})
	if err != nil {
		return err
	}
	pool := transport.NewPool(transport.NewDialer(dialer), time.Minute)
	defer pool.Close()
	wc, err := client.NewClientFromExisting(cn.client, client.Options{
		Namespace: cn.namespace,
		Identity:  cn.identity,
		Logger:    sdklog.NewStructuredLogger(logger),
	})
	if err != nil {
		return fmt.Errorf("create worker client: %w", err)
	}
	defer wc.Close()
	return worker.Run(c.Context, worker.Options{
		Client: wc,
		Region: region,
		Activities: &activities.Activities{
			Client:         wc,
			Namespace:      cn.namespace,
			DataConverter:  converter.GetDefaultDataConverter(),
			Nodes:          pool,
			HeartbeatEvery: 5 * time.Second,
		},
		MaxConcurrentSteps: c.Int("max-concurrent-steps"),
	})
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// newLogger builds the binary's slog logger at a level given by name.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
