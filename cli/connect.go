package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	ucli "github.com/urfave/cli/v2"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"

	"github.com/stead-io/stead/client"
	"github.com/stead-io/stead/internal/audit"
	"github.com/stead-io/stead/internal/codec"
)

// connectFlags are the Temporal connection flags every connecting command
// takes, defaulting from Temporal's own environment variables and profile.
func connectFlags() []ucli.Flag {
	return append([]ucli.Flag{
		&ucli.StringFlag{Name: "address", Aliases: []string{temporalAddress}, Usage: "Temporal frontend host:port", EnvVars: []string{"TEMPORAL_ADDRESS"}, Value: "localhost:7233"},
		namespaceFlag(),
	}, securityFlags()...)
}

// temporalAddress names the connection flag on commands where --address
// is the node's own address.
const temporalAddress = "temporal-address"

// nodeConnectFlags are connectFlags for commands whose --address is a node's.
func nodeConnectFlags() []ucli.Flag {
	return append([]ucli.Flag{
		&ucli.StringFlag{Name: temporalAddress, Usage: "Temporal frontend host:port", EnvVars: []string{"TEMPORAL_ADDRESS"}, Value: "localhost:7233"},
		namespaceFlag(),
	}, securityFlags()...)
}

func namespaceFlag() ucli.Flag {
	return &ucli.StringFlag{Name: "namespace", Usage: "Temporal namespace", EnvVars: []string{"TEMPORAL_NAMESPACE"}, Value: "default"}
}

// outputFlag selects table or JSON output on read commands.
var outputFlag = &ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output format: table or json", Value: "table"}

// conn is an open connection to Temporal with what commands need beside it.
type conn struct {
	client    sdkclient.Client
	namespace string
	identity  string
	// dc and fc encrypt with the codec keys; a worker's client and
	// activities must use these same converters.
	dc converter.DataConverter
	fc converter.FailureConverter
}

// memoSizeWarning is the memo size past which the SDK warns (its default
// is 2 KiB). A node's memo holds one compliance record per association
// that reached it, about 200 bytes each, by design: the warning belongs
// past some 300 associations per node, not at ten.
const memoSizeWarning = 64 << 10

// dialTimeout bounds how long a command waits for an unreachable server.
const dialTimeout = 5 * time.Second

// connect dials Temporal with the command's connection flags.
func connect(c *ucli.Context) (*conn, error) {
	opts, err := temporalOptions(c, envconfig.EnvLookupOS)
	if err != nil {
		return nil, err
	}
	keys, err := codecKeys(c, os.LookupEnv, opts.HostPort)
	if err != nil {
		return nil, err
	}
	cn, err := dial(c.Context, opts, keys)
	if err != nil && !c.IsSet(temporalAddress) {
		if p, path, ok := readDevProfile(); ok && sameAddress(p.Address, opts.HostPort) {
			return nil, fmt.Errorf("%w (the address is from %s, written by a stead dev that may have stopped; give --address)", err, path)
		}
	}
	return cn, err
}

// dial connects with opts (where, how securely), encrypting payloads with
// keys when there are any.
func dial(ctx context.Context, opts sdkclient.Options, keys *codec.Keyring) (*conn, error) {
	opts.Identity = identity(opts)
	opts.DataConverter = codec.NewDataConverter(keys)
	opts.FailureConverter = codec.NewFailureConverter(keys, opts.DataConverter)
	opts.Logger = quietLogger{}
	opts.PayloadLimits = sdkclient.PayloadLimitOptions{MemoSizeWarning: memoSizeWarning}
	addr := opts.HostPort
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	cl, err := sdkclient.DialContext(ctx, opts)
	if err != nil {
		if hint := tlsHint(opts, err); hint != "" {
			return nil, fmt.Errorf("connect to Temporal at %s: %s: %w", addr, hint, err)
		}
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return nil, fmt.Errorf("connect to Temporal at %s: no answer within %s (is `stead dev` or a Temporal server running?)", addr, dialTimeout)
		}
		return nil, fmt.Errorf("connect to Temporal at %s: %w", addr, err)
	}
	return &conn{client: cl, namespace: opts.Namespace, identity: opts.Identity, dc: opts.DataConverter, fc: opts.FailureConverter}, nil
}

// identity names who is acting, recorded by Temporal on every request and
// by Stead on every change it makes (audit.Identity): user@host, and the
// subject of the TLS client certificate opts connects with, if any, which
// is who the server let in.
func identity(opts sdkclient.Options) string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	var subject string
	if t := opts.ConnectionOptions.TLS; t != nil && len(t.Certificates) > 0 && len(t.Certificates[0].Certificate) > 0 {
		if leaf, err := x509.ParseCertificate(t.Certificates[0].Certificate[0]); err == nil {
			subject = leaf.Subject.String()
		}
	}
	return audit.Identity(name, host, subject)
}

// quietLogger drops the SDK's client logs; a CLI speaks in errors.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

// newClient is the client a command performs its operations with: it
// connects with the command's connection flags when an operation first
// needs the server, and reads the output store of --output-dir.
func newClient(c *ucli.Context) *client.Client {
	return client.New(client.Config{
		Dial: func(context.Context) (client.Connection, error) {
			cn, err := connect(c)
			if err != nil {
				return client.Connection{}, err
			}
			return cn.connection(), nil
		},
		OutputDir: c.String("output-dir"),
	})
}

// connection is what the client needs of an open connection.
func (cn *conn) connection() client.Connection {
	return client.Connection{Temporal: cn.client, Namespace: cn.namespace, Identity: cn.identity, DataConverter: cn.dc}
}

// openNamed starts a read command about one named thing: its single
// argument, the output printer and a client, which the caller closes.
func openNamed(c *ucli.Context, arg string) (string, *printer, *client.Client, error) {
	name, err := oneArg(c, arg)
	if err != nil {
		return "", nil, nil, err
	}
	p, err := newPrinter(c)
	if err != nil {
		return "", nil, nil, err
	}
	return name, p, newClient(c), nil
}

// oneArg returns the command's single positional argument.
func oneArg(c *ucli.Context, name string) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s: want exactly one %s argument", c.Command.FullName(), name)
	}
	return c.Args().First(), nil
}
