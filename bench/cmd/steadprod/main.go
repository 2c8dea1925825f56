// Command steadprod runs Temporal as production does, on one machine, for
// benchmarking Stead against it: a PostgreSQL cluster and a temporal-server
// process (internal/prodstack) with the namespace prepared as `stead
// namespace setup` prepares it. It prints the frontend address and the
// server's process id, then holds until interrupted, and removes its data
// when it ends.
//
//	STEAD_TEMPORAL_BIN=/var/cache/stead-ci/temporal-v1.32.0 go run ./bench/cmd/steadprod -shards 4
//	steadbench -temporal-address ADDR -server-pid PID ...
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/namespace"
	"github.com/stead-io/stead/internal/prodstack"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "steadprod: "+err.Error())
		os.Exit(1)
	}
}

func run() error {
	shards := flag.Int("shards", 4, "history shards of the server")
	ns := flag.String("namespace", "default", "namespace to prepare")
	flag.Parse()
	dir, err := os.MkdirTemp("", "steadprod-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := prodstack.Start(ctx, prodstack.Config{BinDir: os.Getenv(prodstack.EnvBinDir), Dir: dir, HistoryShards: *shards})
	if err != nil {
		return err
	}
	defer s.Stop()
	c, err := sdkclient.Dial(sdkclient.Options{HostPort: s.Frontend(), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return fmt.Errorf("connect to %s: %w", s.Frontend(), err)
	}
	setupCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	_, err = namespace.Setup(setupCtx, c.WorkflowService(), c.OperatorService(), namespace.Spec{Name: *ns, SearchAttributes: contract.SearchAttributes()})
	cancel()
	c.Close()
	if err != nil {
		return err
	}
	fmt.Printf("frontend=%s server-pid=%d shards=%d\n", s.Frontend(), s.ServerPID(), *shards)
	<-ctx.Done()
	return nil
}
