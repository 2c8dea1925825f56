package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHConfig is the worker's SSH configuration: its credentials and how it
// trusts host keys.
type SSHConfig struct {
	// Credentials maps a credential name to a private key file path, or to
	// the word "agent" for the ssh-agent at SSH_AUTH_SOCK.
	Credentials map[string]string
	// KnownHostsFile is an optional known_hosts file, used for targets that
	// pin no host key.
	KnownHostsFile string
	// ConnectTimeout bounds the TCP connect and the SSH handshake; 0 means 10s.
	ConnectTimeout time.Duration
}

// defaultConnectTimeout applies when SSHConfig.ConnectTimeout is 0.
const defaultConnectTimeout = 10 * time.Second

// SSHPort is the port SSH dials for a target that gives none.
const SSHPort = 22

// SSHDialer is the SSH protocol: it opens SSH connections to nodes. It
// holds the parsed keys, so it is built once per worker and shared.
type SSHDialer struct {
	creds      map[string]string
	signers    map[string]ssh.Signer
	knownHosts *knownHosts
	timeout    time.Duration
}

// NewSSHDialer validates cfg and loads its keys up front, so a worker with a
// bad key file or known_hosts file fails at start-up, naming the file.
func NewSSHDialer(cfg SSHConfig) (*SSHDialer, error) {
	signers, err := loadSigners(cfg.Credentials)
	var kh *knownHosts
	if cfg.KnownHostsFile != "" {
		var khErr error
		kh, khErr = newKnownHosts(cfg.KnownHostsFile)
		err = errors.Join(err, khErr)
	}
	if cfg.ConnectTimeout < 0 {
		err = errors.Join(err, fmt.Errorf("connect timeout %s is negative", cfg.ConnectTimeout))
	}
	if err != nil {
		return nil, fmt.Errorf("configure ssh: %w", err)
	}
	creds := make(map[string]string, len(cfg.Credentials))
	for k, v := range cfg.Credentials {
		creds[k] = v
	}
	timeout := cfg.ConnectTimeout
	if timeout == 0 {
		timeout = defaultConnectTimeout
	}
	return &SSHDialer{creds: creds, signers: signers, knownHosts: kh, timeout: timeout}, nil
}

// DefaultPort implements Protocol.
func (d *SSHDialer) DefaultPort() int { return SSHPort }

// sshTarget is t with SSH's default port filled in.
func sshTarget(t Target) Target {
	if t.Port == 0 {
		t.Port = SSHPort
	}
	return t
}

// Dial connects and authenticates to the node t describes. Failures are
// *Error values.
func (d *SSHDialer) Dial(ctx context.Context, t Target) (Communicator, error) {
	t = sshTarget(t)
	if t.Address == "" {
		return nil, newError(InvalidTarget, t, errors.New("the target has no address"))
	}
	if t.User == "" {
		return nil, newError(InvalidTarget, t, errors.New("the target has no ssh user"))
	}
	var check hostKeyCheck
	if t.HostKey != "" {
		var err error
		if check, err = pinnedCheck(t.HostKey); err != nil {
			return nil, newError(InvalidTarget, t, err)
		}
	}
	auth, release, err := d.authFor(t)
	if err != nil {
		return nil, newError(NoCredential, t, err)
	}
	defer release()

	addr := t.Addr()
	nd := net.Dialer{Timeout: d.timeout}
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, newError(Unreachable, t, fmt.Errorf("connect: %w", err))
	}
	switch {
	case t.HostKey != "":
	case d.knownHosts != nil:
		if check, err = d.knownHosts.check(addr, nc.RemoteAddr()); err != nil {
			nc.Close()
			return nil, newError(HostKeyUnknown, t, err)
		}
	default:
		check = untrustedCheck()
	}

	// The handshake honours both the connect timeout and ctx.
	_ = nc.SetDeadline(time.Now().Add(d.timeout))
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	cc, chans, reqs, err := ssh.NewClientConn(nc, addr, &ssh.ClientConfig{
		User:              t.User,
		Auth:              []ssh.AuthMethod{auth},
		HostKeyCallback:   check.callback,
		HostKeyAlgorithms: check.algorithms,
	})
	if !stop() && err == nil {
		cc.Close()
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, handshakeError(t, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return newSSHConn(ssh.NewClient(cc, chans, reqs)), nil
}

// handshakeError classifies a failed SSH handshake.
func handshakeError(t Target, err error) *Error {
	var hk *hostKeyError
	var algo *ssh.AlgorithmNegotiationError
	switch {
	case errors.As(err, &hk):
		e := newError(hk.kind, t, hk.err)
		e.HostKey = authorizedKey(hk.presented)
		return e
	case errors.As(err, &algo) && algo.What == "host key":
		// The host has no key of the trusted type: it cannot be the host we trust.
		return newError(HostKeyMismatch, t, fmt.Errorf("host offers no host key of the trusted type: %w", err))
	case errors.As(err, &algo):
		return newError(Incompatible, t, err)
	case strings.Contains(err.Error(), "ssh: unable to authenticate"):
		return newError(AuthFailed, t, err)
	default:
		return newError(Unreachable, t, fmt.Errorf("ssh handshake: %w", err))
	}
}

// sshConn is a Communicator over one SSH connection; each Run is one
// session, each Upload and Download one SFTP session.
type sshConn struct {
	client *ssh.Client
	done   chan struct{} // closed once the connection has ended
}

// newSSHConn wraps c and watches for it to end.
func newSSHConn(c *ssh.Client) *sshConn {
	sc := &sshConn{client: c, done: make(chan struct{})}
	go func() {
		_ = c.Wait()
		close(sc.done)
	}()
	return sc
}

// Alive implements Communicator: it reports whether the connection has
// not ended.
func (c *sshConn) Alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// sessionStopWait bounds how long a cancelled session may take to wind
// down before the whole connection is closed under it.
const sessionStopWait = 5 * time.Second

// Run implements Communicator. Input the command does not read is discarded, as
// OpenSSH's client does. Run returns once stdin copying has stopped, so the
// caller may reuse stdin, stdout and stderr afterwards.
func (c *sshConn) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	s, err := c.client.NewSession()
	if err != nil {
		return -1, fmt.Errorf("open ssh session: %w: %w", ErrNotStarted, err)
	}
	defer s.Close()
	s.Stdout, s.Stderr = stdout, stderr
	var in io.WriteCloser
	if stdin != nil {
		if in, err = s.StdinPipe(); err != nil {
			return -1, fmt.Errorf("open ssh session stdin: %w: %w", ErrNotStarted, err)
		}
	}
	if err := s.Start(cmd); err != nil {
		return -1, fmt.Errorf("start remote command: %w: %w", ErrNotStarted, err)
	}
	var feeding sync.WaitGroup
	if stdin != nil {
		feeding.Go(func() {
			_, _ = io.Copy(in, stdin)
			_ = in.Close()
		})
	}
	defer feeding.Wait()

	waited := make(chan error, 1)
	go func() { waited <- s.Wait() }()
	select {
	case err := <-waited:
		return exitStatus(err)
	case <-ctx.Done():
	}
	_ = s.Signal(ssh.SIGKILL)
	_ = s.Close()
	select {
	case <-waited:
	case <-time.After(sessionStopWait):
		// The peer does not answer: give up the connection so the
		// session's goroutines end before Run returns.
		c.client.Close()
		<-waited
	}
	return -1, ctx.Err()
}

// exitStatus turns the result of Session.Wait into Run's results.
func exitStatus(err error) (int, error) {
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.ExitStatus(), nil
	default:
		return -1, fmt.Errorf("wait for remote command: %w", err)
	}
}

// Close implements Communicator.
func (c *sshConn) Close() error {
	err := c.client.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
