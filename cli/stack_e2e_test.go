package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/cli"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/devserver"
	"github.com/stead-io/stead/internal/prodstack"
)

// stackEnv chooses the Temporal server the e2e tests run against: unset,
// the embedded dev server (SQLite); "prod", a temporal-server process on
// PostgreSQL with several history shards, as production runs it (`make
// test-prod`).
const stackEnv = "STEAD_E2E_STACK"

// stack is the production stack when stackEnv is "prod", else nil.
var stack *prodstack.Stack

// startTemporal starts the server the tests use, with its data under dir,
// and sets frontend. A production stack whose prerequisites are missing
// makes skip say why; the caller then runs no test.
func startTemporal(dir string) (skip string, err error) {
	if os.Getenv(stackEnv) != "prod" {
		srv, err := devserver.Start(context.Background(), devserver.Config{
			DataDir: dir, UIPort: -1, SearchAttributes: contract.SearchAttributes(),
		})
		if err != nil {
			return "", fmt.Errorf("start temporal: %w", err)
		}
		frontend, server, dataDir = srv.FrontendAddress(), srv, dir
		return "", nil
	}
	cfg := prodstack.Config{BinDir: os.Getenv(prodstack.EnvBinDir), Dir: filepath.Join(dir, "stack"), HistoryShards: 4}
	if m := prodstack.Missing(cfg); m != "" {
		if os.Getenv("CI") == "true" {
			return "", errors.New("production stack: " + m)
		}
		return "skipping the production-stack tests: " + m, nil
	}
	// PostgreSQL runs as its own user, which must reach its directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("open %s to postgres: %w", dir, err)
	}
	began := time.Now()
	s, err := prodstack.Start(context.Background(), cfg)
	if err != nil {
		return "", err
	}
	stack, frontend, dataDir = s, s.Frontend(), dir
	// The namespace is prepared as an operator prepares it.
	var out, errb bytes.Buffer
	if code := cli.Run(context.Background(), []string{"stead", "namespace", "setup", "--address", frontend}, &out, &errb); code != 0 {
		return "", errors.Join(fmt.Errorf("stead namespace setup: %s", errb.String()), s.Stop())
	}
	fmt.Fprintf(os.Stderr, "production stack: PostgreSQL and temporal-server (%d history shards) at %s, ready in %s\n%s",
		s.HistoryShards(), frontend, time.Since(began).Round(time.Millisecond), out.String())
	return "", nil
}

// stopTemporal stops whichever server startTemporal started.
func stopTemporal() {
	if stack != nil {
		_ = stack.Stop()
	}
	if server != nil {
		_ = server.Stop()
	}
}

// restartServer stops the Temporal server and starts it again on the same
// data and frontend port.
func restartServer(t *testing.T) {
	if stack != nil {
		require.NoError(t, stack.StopServer())
		require.NoError(t, stack.StartServer(context.Background()))
		return
	}
	require.NoError(t, server.Stop())
	_, port, err := net.SplitHostPort(frontend)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	srv, err := devserver.Start(context.Background(), devserver.Config{DataDir: dataDir, Port: p, UIPort: -1, SearchAttributes: contract.SearchAttributes()})
	require.NoError(t, err)
	server = srv
}

// PostgreSQL stops at once (as in a crash or a failover) while steps run,
// and comes back a few seconds later: the run ends as if nothing happened.
func TestPostgresRestartMidRun(t *testing.T) {
	if stack == nil {
		t.Skip("the dev server has no PostgreSQL: this test runs in make test-prod (" + stackEnv + "=prod)")
	}
	restartMidRun(t, "pg-restart", 120, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		require.NoError(t, stack.StopPostgres(ctx))
		time.Sleep(3 * time.Second)
		require.NoError(t, stack.StartPostgres(ctx))
	})
}
