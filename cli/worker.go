package cli

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/stead-io/stead/internal/events"
	"github.com/stead-io/stead/internal/outputstore"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/internal/transport/winrm"
	"github.com/stead-io/stead/worker"
)

// workerFlags configure how a worker reaches nodes.
func workerFlags() []ucli.Flag {
	return append([]ucli.Flag{
		&ucli.StringSliceFlag{Name: "credential", Usage: "NAME=PATH of an SSH private key (or NAME=agent for ssh-agent) nodes can name; 'default' is used by nodes that name none (repeatable)"},
		&ucli.StringFlag{Name: "known-hosts", Usage: "known_hosts file for nodes without a pinned host key (default ~/.ssh/known_hosts if it exists)"},
		&ucli.StringSliceFlag{Name: "winrm-credential", Usage: "NAME=[ntlm:|basic:|cert:|kerberos:]PATH of a file (mode 0600) holding the password of a WinRM node's user, or with cert: the PEM client certificate and key mapped to it (https only), or with kerberos: KEY=value lines principal=user@REALM, keytab=FILE or password_file=FILE (mode 0600), krb5_conf=FILE (default /etc/krb5.conf), to log in with a ticket for HTTP/<node address>, a DNS name; 'default' is used by nodes that name none; ntlm unless a scheme is given (repeatable)"},
		&ucli.StringFlag{Name: "winrm-ca-file", Usage: "PEM file of certificate authorities trusted for WinRM nodes that pin no certificate (default: the system's)"},
		&ucli.IntFlag{Name: "max-concurrent-steps", Usage: "steps this worker runs at once", Value: 200},
		&ucli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error", Value: "info"},
		secretsFileFlag(),
		&ucli.StringFlag{Name: "files", Usage: "directory whose files documents may copy to nodes (aws:downloadContent sourceType Worker); none by default"},
		&ucli.StringFlag{Name: "output-dir", Usage: "output store: the directory where each step's full stdout and stderr go, as <association>/<execution>/<node>/<step>.stdout|.stderr (up to 100 MiB per stream); read it with stead association output on this machine", Value: defaultOutputDir},
		&ucli.StringFlag{Name: "output-url", Usage: "output store in an S3-compatible bucket instead of --output-dir: s3://bucket/prefix, laid out as <prefix>/<execution>/<node>/<step>/stdout|stderr; endpoint, region, path-style and credentials as the AWS SDK reads them (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_S3_USE_PATH_STYLE=true, AWS_PROFILE, ...)"},
		&ucli.StringFlag{Name: "metrics-address", Usage: "serve Prometheus metrics at http://host:port/metrics (e.g. 127.0.0.1:9464): steps, nodes and executions by status, step durations, dial errors, pooled connections, event deliveries, and the Temporal SDK's metrics"},
		&ucli.StringFlag{Name: "pprof", Usage: "serve Go's pprof profiles on this host:port (e.g. 127.0.0.1:6060), to see where the worker spends its time"},
	}, eventFlags()...)
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
			stop, err := servePprof(c.String("pprof"), logger)
			if err != nil {
				return err
			}
			defer stop()
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
	secretStore, err := loadWorkerSecrets(c, logger)
	if err != nil {
		return err
	}
	warnIfRoot(logger)
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
	winrmCreds, err := winrm.ParseCredentialFlags(c.StringSlice("winrm-credential"))
	if err != nil {
		return err
	}
	winrmDialer, err := winrm.NewDialer(winrm.Config{Credentials: winrmCreds, CAFile: c.String("winrm-ca-file")})
	if err != nil {
		return err
	}
	pool := transport.NewPool(transport.NewRegistry(map[string]transport.Protocol{
		transport.KindLocal: transport.LocalDialer{}, transport.KindSSH: dialer, winrm.Kind: winrmDialer,
	}), time.Minute)
	defer pool.Close()
	m, stopMetrics, err := serveMetrics(c, logger, pool)
	if err != nil {
		return err
	}
	defer stopMetrics()
	// The worker's client must encrypt as the command's does: the
	// converters are not inherited from the existing client.
	wc, err := client.NewClientFromExisting(cn.client, client.Options{
		Namespace:        cn.namespace,
		Identity:         cn.identity,
		Logger:           sdklog.NewStructuredLogger(logger),
		DataConverter:    cn.dc,
		FailureConverter: cn.fc,
		MetricsHandler:   m.sdkHandler(),
		// Nor are the payload limits: without them the worker warns at
		// the SDK's 2 KiB for every node memo past ten associations.
		PayloadLimits: client.PayloadLimitOptions{MemoSizeWarning: memoSizeWarning},
	})
	if err != nil {
		return fmt.Errorf("create worker client: %w", err)
	}
	defer wc.Close()
	var outputS3 *outputstore.S3
	if u := c.String("output-url"); u != "" {
		if outputS3, err = outputstore.NewS3(c.Context, u); err != nil {
			return err
		}
		logger.Info("output store", "url", u)
	}
	publisher, closeEvents, err := newPublisher(c, logger, region, cn.namespace)
	if err != nil {
		return err
	}
	if publisher != nil && m != nil {
		publisher.Observer = events.Observer{Delivered: m.EventDelivered, Failed: m.EventFailed}
	}
	defer closeEvents()
	return worker.Run(c.Context, worker.Options{
		Client: wc,
		Region: region,
		Activities: &worker.Activities{
			Client:         wc,
			Namespace:      cn.namespace,
			DataConverter:  cn.dc,
			Nodes:          pool,
			Files:          c.String("files"),
			OutputDir:      outputDir(c),
			OutputS3:       outputS3,
			HeartbeatEvery: 5 * time.Second,
			Secrets:        secretStore,
			Events:         eventSink(publisher),
			Metrics:        m.recorder(),
		},
		MaxConcurrentSteps: c.Int("max-concurrent-steps"),
	})
}

// servePprof serves the runtime profiles on addr until stop is called; an
// empty addr serves nothing. It uses its own mux, so nothing else is
// exposed on that address.
func servePprof(addr string, logger *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for pprof on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	logger.Info("pprof listening", "address", l.Addr().String())
	return func() { _ = srv.Close() }, nil
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
