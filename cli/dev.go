package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	ucli "github.com/urfave/cli/v2"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/stead-io/stead/client"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/devserver"
	"github.com/stead-io/stead/internal/node"
)

// LocalNodeID is the node `stead dev` registers for the machine it runs on.
const LocalNodeID = "local"

func devCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "dev",
		Usage: "run Stead in one process: an embedded Temporal server persisted to SQLite, its Web UI, and a worker",
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "data-dir", Usage: "where the SQLite database lives", Value: ".stead"},
			&ucli.StringFlag{Name: "ip", Usage: "address to listen on", Value: "127.0.0.1"},
			&ucli.IntFlag{Name: "port", Usage: "Temporal frontend (gRPC) port", Value: 7233},
			&ucli.IntFlag{Name: "ui-port", Usage: "Temporal Web UI port; -1 disables the UI", Value: 8233},
			&ucli.StringFlag{Name: "namespace", Usage: "Temporal namespace", Value: "default"},
			&ucli.BoolFlag{Name: "no-local-node", Usage: "do not register this machine as node \"local\""},
			&ucli.BoolFlag{Name: "no-encryption", Usage: "store payloads in plaintext instead of encrypting them with <data-dir>/codec.key"},
			codecKeyFileFlag(),
			&ucli.BoolFlag{Name: "no-worker", Usage: "run no worker in this process (run stead worker beside it), e.g. to measure the server and the worker apart"},
		}, workerFlags()...),
		Action: devRun,
	}
}

func devRun(c *ucli.Context) error {
	logger, err := newLogger(c.App.ErrWriter, c.String("log-level"))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	c.Context = ctx
	enc, err := startDevCodec(c)
	if err != nil {
		return err
	}
	defer enc.close()
	stopPprof, err := servePprof(c.String("pprof"), logger)
	if err != nil {
		return err
	}
	defer stopPprof()
	srv, err := devserver.Start(ctx, devserver.Config{
		DataDir:          c.String("data-dir"),
		IP:               c.String("ip"),
		Port:             c.Int("port"),
		UIPort:           c.Int("ui-port"),
		Namespace:        c.String("namespace"),
		SearchAttributes: contract.SearchAttributes(),
		Logger:           logger,
		CodecEndpoint:    enc.endpoint,
	})
	if err != nil {
		return err
	}
	defer srv.Stop()
	cn, err := dial(ctx, sdkclient.Options{HostPort: srv.FrontendAddress(), Namespace: c.String("namespace")}, enc.keys)
	if err != nil {
		return err
	}
	enc.serve(srv.UIURL(), logger)
	defer cn.client.Close()

	w := c.App.Writer
	fmt.Fprintf(w, "Stead dev server\n  Temporal: %s (namespace %s)\n", srv.FrontendAddress(), cn.namespace)
	if u := srv.UIURL(); u != "" {
		fmt.Fprintf(w, "  Web UI:   %s\n", u)
	}
	fmt.Fprintf(w, "  Data:     %s\n", c.String("data-dir"))
	fmt.Fprintf(w, "  Output:   %s\n", outputDir(c))
	enc.describe(w)

	// Without a worker here, registering the local node waits for one
	// started beside this process.
	withWorker := !c.Bool("no-worker")
	errc := make(chan error, 1)
	if withWorker {
		go func() { errc <- runWorker(c, cn, logger, "") }()
	}
	if !c.Bool("no-local-node") {
		n := node.Node{ID: LocalNodeID, Transport: node.TransportLocal}.WithDefaults()
		// The client borrows the connection, which stays open for the worker.
		cl := client.New(client.Config{Dial: func(context.Context) (client.Connection, error) { return cn.connection(), nil }})
		if _, err := cl.RegisterNode(ctx, n); err != nil {
			return err
		}
		fmt.Fprintf(w, "  Node:     %q (this machine, local transport)\n", LocalNodeID)
	}
	fmt.Fprintln(w, "Ready. Press Ctrl-C to stop.")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		if withWorker {
			<-errc
		}
		fmt.Fprintln(w, "stopped")
		return nil
	}
}
