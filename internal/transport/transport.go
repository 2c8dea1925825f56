package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Names of the protocols NewDialer registers, as nodes name their transport.
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
	// Port is the port to dial; 0 means the protocol's default port.
	Port int
	// User is the login user. It is required for ssh; for local, "" means
	// the worker's own user.
	User string
	// Kind names the protocol that reaches the node, as registered in the
	// worker's Registry: "ssh" or "local".
	Kind string
	// HostKey is the node's pinned public host key in authorized_keys form
	// ("ssh-ed25519 AAAA..."); empty means known_hosts decides.
	HostKey string
	// Credential names a credential the worker holds; "" means the worker's
	// "default" credential, else its ssh-agent if SSH_AUTH_SOCK is set.
	Credential string
	// HTTP reaches a WinRM target over plain HTTP with every message
	// encrypted and signed by the authentication's session security (NTLM
	// sealing), as Windows' default listener on port 5985 requires. Other
	// protocols ignore it.
	HTTP bool
	// InsecureHTTP lets a WinRM target be reached over plain HTTP without
	// message encryption, where neither the node nor the traffic is
	// authenticated. Only an operator's explicit choice sets it; it wins
	// over HTTP. Other protocols ignore it.
	InsecureHTTP bool
}

// Addr is the node's address for messages: host:port, or the host alone
// when no port is known.
func (t Target) Addr() string {
	if t.Port == 0 {
		return t.Address
	}
	return net.JoinHostPort(t.Address, strconv.Itoa(t.Port))
}

// Communicator is one open connection to a node, whatever the protocol
// underneath: it runs commands and moves files. It knows nothing of the
// node's shell; commands are handed to whatever the protocol runs them
// with (the login shell over SSH, `sh -c` locally). Runners
// (internal/runner) speak the node's shell through it.
type Communicator interface {
	// Run runs cmd on the node, feeding it stdin (nil means none) and
	// copying its output to stdout and stderr (nil discards). A command
	// that ran returns its exit status (128+n if killed by signal n) and a
	// nil error; err is non-nil only when the command could not be run or
	// its end was not observed, and wraps ErrNotStarted when the command
	// certainly never started. Cancelling ctx ends the command and returns
	// ctx.Err().
	Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (exitCode int, err error)
	// Upload writes r to dest with mode perm, creating missing parent
	// directories, under a temporary name renamed into place, so the node
	// never sees half a file at dest. A relative dest is relative to the
	// login's home directory. It returns the absolute path written.
	Upload(ctx context.Context, dest string, r io.Reader, perm os.FileMode) (string, error)
	// Download copies the first limit bytes of the regular file src to w
	// and returns how many it wrote and the file's size. A relative src is
	// relative to the login's home directory. A missing file is an error
	// wrapping fs.ErrNotExist, an unreadable one fs.ErrPermission, anything
	// but a regular file ErrNotRegular.
	Download(ctx context.Context, src string, w io.Writer, limit int64) (written, size int64, err error)
	// Alive reports whether the connection may still carry commands: a
	// pool drops an idle communicator that is not.
	Alive() bool
	// Close releases the connection.
	Close() error
}

// ErrNotStarted marks a Run failure that happened before the command was
// started, so running it again elsewhere cannot run it twice.
var ErrNotStarted = errors.New("command was not started")

// ErrNotRegular is Download's error for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// Dialer opens connections to nodes.
type Dialer interface {
	// Dial connects to the node t describes. Failures to reach the node
	// are *Error values.
	Dial(ctx context.Context, t Target) (Communicator, error)
}

// Protocol is one way of reaching nodes: SSH, the worker's own host,
// WinRM. Each is built from its own configuration (SSHConfig for SSH) and
// registered in a Registry under the transport name nodes give.
type Protocol interface {
	Dialer
	// DefaultPort is the port dialled for a target that gives none (22 for
	// SSH); 0 for a protocol that dials no port.
	DefaultPort() int
}

// Registry picks the protocol that reaches a target by the target's
// transport name (Target.Kind). It is the Dialer a worker's Pool dials
// through; a worker registers the protocols it is configured for.
type Registry struct {
	protocols map[string]Protocol
}

// NewRegistry returns a Registry of protocols by transport name.
func NewRegistry(protocols map[string]Protocol) *Registry {
	return &Registry{protocols: maps.Clone(protocols)}
}

// NewDialer returns the Registry of the built-in protocols: "ssh" through
// ssh, and "local". ssh may be nil on a worker that only runs local
// targets.
func NewDialer(ssh *SSHDialer) *Registry {
	protocols := map[string]Protocol{KindLocal: LocalDialer{}}
	if ssh != nil {
		protocols[KindSSH] = ssh
	}
	return NewRegistry(protocols)
}

// Dial implements Dialer: it fills the protocol's default port into a
// target that gives none and dials through that protocol. A transport
// name this worker has no protocol for is an InvalidTarget *Error.
func (r *Registry) Dial(ctx context.Context, t Target) (Communicator, error) {
	p, ok := r.protocols[t.Kind]
	if !ok {
		names := slices.Sorted(maps.Keys(r.protocols))
		return nil, newError(InvalidTarget, t, fmt.Errorf("no communicator for transport %q on this worker (it has: %s)", t.Kind, strings.Join(names, ", ")))
	}
	if t.Port == 0 {
		t.Port = p.DefaultPort()
	}
	return p.Dial(ctx, t)
}
