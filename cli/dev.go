package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	ucli "github.com/urfave/cli/v2"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/stead-io/stead/client"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/codec"
	"github.com/stead-io/stead/internal/devserver"
	"github.com/stead-io/stead/internal/node"
)

// listenAddress is what the banner says the frontend listens on: the
// address clients dial, and every interface when ip is unspecified.
func listenAddress(ip, dialed string) string {
	if p := net.ParseIP(ip); p != nil && p.IsUnspecified() {
		_, port, _ := net.SplitHostPort(dialed)
		return net.JoinHostPort(ip, port) + ", every interface; here " + dialed
	}
	return dialed
}

// listenURL is listenAddress for the Web UI's URL.
func listenURL(ip, u string) string {
	if p := net.ParseIP(ip); p != nil && p.IsUnspecified() {
		if parsed, err := url.Parse(u); err == nil {
			return "http://" + net.JoinHostPort(ip, parsed.Port()) + ", every interface; here " + u
		}
	}
	return u
}

// LocalNodeID is the node `stead dev` registers for the machine it runs on.
const LocalNodeID = "local"

func devCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "dev",
		Usage: "run Stead in one process: an embedded Temporal server persisted to SQLite, its Web UI, and a worker",
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "data-dir", Usage: "where the SQLite database lives", Value: ".stead"},
			&ucli.StringFlag{Name: "ip", Usage: "address the Temporal frontend and Web UI listen on; anything but loopback exposes both, unauthenticated, to the network", Value: "127.0.0.1"},
			&ucli.IntFlag{Name: "port", Usage: "Temporal frontend (gRPC) port", Value: 7233},
			&ucli.IntFlag{Name: "ui-port", Usage: "Temporal Web UI port; -1 disables the UI", Value: 8233},
			&ucli.BoolFlag{Name: "ui-write", Usage: "let the Web UI start, signal, cancel, terminate and reset workflows (off: the UI only reads)"},
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
	if ip := net.ParseIP(c.String("ip")); ip != nil && !ip.IsLoopback() {
		logger.Warn("the Temporal frontend and the Web UI listen beyond loopback, without authentication: anyone who reaches "+c.String("ip")+" can read histories and start workflows; the codec endpoint stays on loopback", "ip", c.String("ip"))
	}
	srv, err := devserver.Start(ctx, devserver.Config{
		DataDir:          c.String("data-dir"),
		IP:               c.String("ip"),
		Port:             c.Int("port"),
		UIPort:           c.Int("ui-port"),
		Namespace:        c.String("namespace"),
		SearchAttributes: contract.SearchAttributes(),
		Logger:           logger,
		CodecEndpoint:    enc.endpoint,
		UIWrite:          c.Bool("ui-write"),
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w (choose free ports with --port and --ui-port, e.g. make run ARGS='--port 17233 --ui-port 18233')", err)
	}
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
	fmt.Fprintf(w, "Stead dev server\n  Temporal: %s (namespace %s)\n", listenAddress(c.String("ip"), srv.FrontendAddress()), cn.namespace)
	if u := srv.UIURL(); u != "" {
		write := "read-only; --ui-write lets it change things"
		if c.Bool("ui-write") {
			write = "write actions on"
		}
		fmt.Fprintf(w, "  Web UI:   %s (%s)\n", listenURL(c.String("ip"), u), write)
	}
	fmt.Fprintf(w, "  Data:     %s\n", c.String("data-dir"))
	fmt.Fprintf(w, "  Output:   %s\n", outputDir(c))
	enc.describe(w)
	prof := devProfile{Address: srv.FrontendAddress(), Namespace: cn.namespace, Encrypted: enc.keys != nil, PID: os.Getpid()}
	if enc.keys != nil && enc.source != codec.EnvKeys {
		if prof.CodecKeyFile, err = filepath.Abs(enc.source); err != nil {
			return fmt.Errorf("resolve key file %s: %w", enc.source, err)
		}
	}
	profPath, err := writeDevProfile(prof)
	if err != nil {
		logger.Warn("commands in other directories will need --address and --codec-key-file", "error", err)
	} else {
		defer removeDevProfile(profPath)
		fmt.Fprintf(w, "  Profile:  %s (stead commands of this user find this server there, from any directory)\n", profPath)
	}
	fmt.Fprintf(w, "  Elsewhere (another user, or tools that read Temporal's variables):\n    export TEMPORAL_ADDRESS=%s TEMPORAL_NAMESPACE=%s", srv.FrontendAddress(), cn.namespace)
	if prof.CodecKeyFile != "" {
		fmt.Fprintf(w, " %s=%s", EnvCodecKeyFile, prof.CodecKeyFile)
	}
	fmt.Fprintln(w)

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
