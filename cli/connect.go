package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// connectFlags are the Temporal connection flags every connecting command
// takes, defaulting from Temporal's own environment variables.
func connectFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "address", Aliases: []string{temporalAddress}, Usage: "Temporal frontend host:port", EnvVars: []string{"TEMPORAL_ADDRESS"}, Value: "localhost:7233"},
		namespaceFlag(),
	}
}

// temporalAddress names the connection flag on commands where --address
// is the node's own address.
const temporalAddress = "temporal-address"

// nodeConnectFlags are connectFlags for commands whose --address is a node's.
func nodeConnectFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: temporalAddress, Usage: "Temporal frontend host:port", EnvVars: []string{"TEMPORAL_ADDRESS"}, Value: "localhost:7233"},
		namespaceFlag(),
	}
}

func namespaceFlag() ucli.Flag {
	return &ucli.StringFlag{Name: "namespace", Usage: "Temporal namespace", EnvVars: []string{"TEMPORAL_NAMESPACE"}, Value: "default"}
}

// outputFlag selects table or JSON output on read commands.
var outputFlag = &ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output format: table or json", Value: "table"}

// conn is an open connection to Temporal with what commands need beside it.
type conn struct {
	client    client.Client
	namespace string
	identity  string
	dc        converter.DataConverter
}

// dialTimeout bounds how long a command waits for an unreachable server.
const dialTimeout = 5 * time.Second

// connect dials Temporal with the command's connection flags.
func connect(c *ucli.Context) (*conn, error) {
	addr := c.String(temporalAddress)
	if addr == "" {
		addr = c.String("address")
	}
	return dial(c.Context, addr, c.String("namespace"))
}

// dial connects to the Temporal frontend at addr.
func dial(ctx context.Context, addr, ns string) (*conn, error) {
	dc := converter.GetDefaultDataConverter()
	id := identity()
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	cl, err := client.DialContext(ctx, client.Options{
		HostPort:      addr,
		Namespace:     ns,
		Identity:      id,
		DataConverter: dc,
		Logger:        quietLogger{},
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return nil, fmt.Errorf("connect to Temporal at %s: no answer within %s (is `stead dev` or a Temporal server running?)", addr, dialTimeout)
		}
		return nil, fmt.Errorf("connect to Temporal at %s: %w", addr, err)
	}
	return &conn{client: cl, namespace: ns, identity: id, dc: dc}, nil
}

// identity names who is acting, recorded by Temporal on every request and
// by Stead on every change it makes: user@host.
func identity() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// quietLogger drops the SDK's client logs; a CLI speaks in errors.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
