package transport

import (
	"context"
	"io"
	"net"
	"strconv"
)

// Kinds of transport a Target can name.
const (
	// KindSSH reaches a node over SSH.
	KindSSH = "ssh"
	// KindLocal runs commands on the worker's own host.
	KindLocal = "local"
)

// Target is everything the worker needs to reach one node. It carries the
// name of a credential, never the credential itself, so it can travel in
// workflow payloads.
type Target struct {
	// NodeID names the node in errors and logs.
	NodeID string
	// Address is the node's host name or IP address.
	Address string
	// Port is the SSH port; 0 means 22.
	Port int
	// User is the login user. It is required for ssh; for local, "" means
	// the worker's own user.
	User string
	// Kind selects the transport: "ssh" or "local".
	Kind string
	// HostKey is the node's pinned public host key in authorized_keys form
	// ("ssh-ed25519 AAAA..."); empty means known_hosts decides.
	HostKey string
	// Credential names a credential the worker holds; "" means the worker's
	// "default" credential, else its ssh-agent if SSH_AUTH_SOCK is set.
	Credential string
}

// hostPort is the TCP address to dial.
func (t Target) hostPort() string {
	port := t.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(t.Address, strconv.Itoa(port))
}

// Conn runs commands on one node through its POSIX shell.
type Conn interface {
	// Run runs cmd through the node's shell, feeding it stdin (nil means
	// none) and copying its output to stdout and stderr (nil discards).
	// A command that ran returns its exit status (128+n if killed by
	// signal n) and a nil error; err is non-nil only when the command could
	// not be run or its end was not observed. Cancelling ctx ends the
	// session and returns ctx.Err().
	Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (exitCode int, err error)
	// Close releases the connection.
	Close() error
}

// Dialer opens connections to nodes.
type Dialer interface {
	// Dial connects to the node t describes.
	Dial(ctx context.Context, t Target) (Conn, error)
}

// NewDialer returns the Dialer the worker uses: it routes each target to
// the transport its Kind names. ssh may be nil on a worker that only runs
// local targets.
func NewDialer(ssh *SSHDialer) Dialer {
	return router{ssh: ssh}
}

// router picks a transport by Target.Kind.
type router struct {
	ssh *SSHDialer
}

// Dial implements Dialer.
func (r router) Dial(ctx context.Context, t Target) (Conn, error) {
	switch t.Kind {
	case KindSSH:
		if r.ssh == nil {
			return nil, newError(InvalidTarget, t, errNoSSH)
		}
		return r.ssh.Dial(ctx, t)
	case KindLocal:
		return LocalDialer{}.Dial(ctx, t)
	default:
		return nil, newError(InvalidTarget, t, unknownKindError(t.Kind))
	}
}
