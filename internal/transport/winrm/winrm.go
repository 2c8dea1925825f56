package winrm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ntlmssp "github.com/Azure/go-ntlmssp"
	"github.com/masterzen/winrm"
	"github.com/masterzen/winrm/soap"

	"github.com/stead-io/stead/internal/transport"
)

// defaultConnectTimeout applies when Config.ConnectTimeout is 0.
const defaultConnectTimeout = 10 * time.Second

// operationTimeout is how long the node may hold a Receive open waiting
// for output (WS-Management's OperationTimeout); requests wait a little
// longer for its answer.
const (
	operationTimeout = 20 * time.Second
	responseSlack    = 10 * time.Second
)

// Dialer is the WinRM protocol. It holds the loaded passwords and CAs, so
// it is built once per worker and shared.
type Dialer struct {
	secrets map[string]secret
	roots   *x509.CertPool // nil: the system's roots
	timeout time.Duration
}

// NewDialer validates cfg and loads its password and CA files up front, so
// a worker with a bad file fails at start-up, naming it.
func NewDialer(cfg Config) (*Dialer, error) {
	secrets, err := loadSecrets(cfg.Credentials)
	var roots *x509.CertPool
	if cfg.CAFile != "" {
		var caErr error
		roots, caErr = loadCAs(cfg.CAFile)
		err = errors.Join(err, caErr)
	}
	if cfg.ConnectTimeout < 0 {
		err = errors.Join(err, fmt.Errorf("connect timeout %s is negative", cfg.ConnectTimeout))
	}
	if err != nil {
		return nil, fmt.Errorf("configure winrm: %w", err)
	}
	timeout := cfg.ConnectTimeout
	if timeout == 0 {
		timeout = defaultConnectTimeout
	}
	return &Dialer{secrets: secrets, roots: roots, timeout: timeout}, nil
}

// DefaultPort implements transport.Protocol: HTTPS's 5986. Nodes always
// carry a port (5985 for a node reached over plain HTTP, filled in when it
// is registered); Dial itself dials 5985 for an InsecureHTTP target that
// gives none.
func (d *Dialer) DefaultPort() int { return HTTPSPort }

// fail builds the *transport.Error for t.
func fail(kind transport.ErrorKind, t transport.Target, err error) *transport.Error {
	return &transport.Error{Kind: kind, NodeID: t.NodeID, Addr: t.Addr(), Err: err}
}

// Dial implements transport.Dialer: it opens a WinRS shell on the node,
// which proves the node reachable, its certificate trusted and the
// credential accepted.
func (d *Dialer) Dial(ctx context.Context, t transport.Target) (transport.Communicator, error) {
	plain := t.HTTP || t.InsecureHTTP
	if t.Port == 0 {
		t.Port = HTTPSPort
		if plain {
			t.Port = HTTPPort
		}
	}
	if t.Address == "" {
		return nil, fail(transport.InvalidTarget, t, errors.New("the target has no address"))
	}
	if t.User == "" {
		return nil, fail(transport.InvalidTarget, t, errors.New("the target has no winrm user"))
	}
	var pin string
	if t.HostKey != "" {
		var err error
		if pin, err = ParseFingerprint(t.HostKey); err != nil {
			return nil, fail(transport.InvalidTarget, t, err)
		}
	}
	sec, err := d.secretFor(t)
	if err != nil {
		return nil, fail(transport.NoCredential, t, err)
	}
	// Plain HTTP is sealed unless the operator opted out.
	sealed := plain && !t.InsecureHTTP
	if sealed && sec.auth != AuthNTLM {
		return nil, fail(transport.InvalidTarget, t, fmt.Errorf("message encryption over plain http is NTLM's: a %s credential needs https", sec.auth))
	}
	if plain && sec.auth == AuthBasic {
		return nil, fail(transport.InvalidTarget, t, errors.New("basic authentication over plain http would send the password in clear: use an ntlm credential or https"))
	}
	if plain && sec.auth == AuthCertificate {
		return nil, fail(transport.InvalidTarget, t, errors.New("certificate authentication is part of the TLS handshake: it needs https"))
	}

	post := &poster{user: t.User, password: sec.password, mutual: sec.auth == AuthCertificate}
	scheme := "https"
	if plain {
		scheme = "http"
	}
	post.url = scheme + "://" + net.JoinHostPort(t.Address, strconv.Itoa(t.Port)) + "/wsman"
	tlsConfig := d.tlsConfig(t, pin, post)
	if sec.cert != nil {
		tlsConfig.Certificates = []tls.Certificate{*sec.cert}
	}
	var rt http.RoundTripper = &http.Transport{
		DialContext:           (&net.Dialer{Timeout: d.timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   d.timeout,
		ResponseHeaderTimeout: operationTimeout + responseSlack,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	if sec.auth == AuthNTLM {
		rt = ntlmssp.Negotiator{RoundTripper: rt}
	}
	if sec.krb != nil {
		rt = &negotiator{rt: rt, login: sec.krb, spn: servicePrincipal(t.Address)}
		post.principal = sec.krb.principal
	}
	post.client = &http.Client{Transport: rt}
	if sealed {
		// Windows' default listener: every message sealed with the NTLM
		// login (encrypt.go), on the sealer's own connections rather
		// than the transport above.
		dial := (&net.Dialer{Timeout: d.timeout, KeepAlive: 30 * time.Second}).DialContext
		post.client = &http.Client{Transport: newSealer(post.url, t.User, sec.password, dial, d.timeout, operationTimeout+responseSlack)}
	}

	params := winrm.NewParameters("PT"+strconv.Itoa(int(operationTimeout/time.Second))+"S", "en-US", 153600)
	params.TransportDecorator = func() winrm.Transporter { return post }
	client, err := winrm.NewClientWithParameters(winrm.NewEndpoint(t.Address, t.Port, !plain, false, nil, nil, nil, d.timeout), t.User, sec.password, params)
	if err != nil {
		return nil, fail(transport.InvalidTarget, t, fmt.Errorf("configure winrm client: %w", err))
	}
	type opened struct {
		shell *winrm.Shell
		err   error
	}
	done := make(chan opened, 1)
	go func() {
		s, err := client.CreateShell()
		done <- opened{s, err}
	}()
	select {
	case o := <-done:
		if o.err != nil {
			post.client.CloseIdleConnections()
			return nil, post.classify(t, o.err)
		}
		return &conn{shell: o.shell, client: post.client}, nil
	case <-ctx.Done():
		post.client.CloseIdleConnections()
		go func() {
			if o := <-done; o.err == nil {
				_ = o.shell.Close()
			}
		}()
		return nil, fail(transport.Unreachable, t, ctx.Err())
	}
}

// secretFor picks the credential t names, or the worker's default one.
func (d *Dialer) secretFor(t transport.Target) (secret, error) {
	name := t.Credential
	if name == "" {
		name = transport.DefaultCredential
	}
	s, ok := d.secrets[name]
	if !ok {
		return secret{}, fmt.Errorf("the worker holds no winrm credential named %q (give one with --winrm-credential %s=PATH)", name, name)
	}
	return s, nil
}

// tlsConfig verifies the node's certificate: against the pin when there is
// one, else against the roots and the node's address. Either way it
// records the certificate presented, for the error an operator reads.
func (d *Dialer) tlsConfig(t transport.Target, pin string, post *poster) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.Address, RootCAs: d.roots}
	record := func(cs tls.ConnectionState) string {
		if len(cs.PeerCertificates) == 0 {
			return ""
		}
		fp := Fingerprint(cs.PeerCertificates[0].Raw)
		post.presented.Store(&fp)
		return fp
	}
	if pin == "" {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			record(cs)
			return nil
		}
		return cfg
	}
	// The pin replaces chain and name verification: a pinned certificate
	// is usually self-signed, as WinRM's own listener setup makes it.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		got := record(cs)
		if got != pin {
			return &pinError{presented: got, pinned: pin}
		}
		return nil
	}
	return cfg
}

// pinError is a certificate that is not the pinned one.
type pinError struct{ presented, pinned string }

func (e *pinError) Error() string {
	return fmt.Sprintf("node presented certificate %s, pinned certificate is %s", e.presented, e.pinned)
}

// poster is the HTTP side of the WinRM client: it posts SOAP messages with
// our TLS trust and authentication, and keeps what classifying a failure
// needs. It implements winrm.Transporter.
type poster struct {
	client         *http.Client
	url            string
	user, password string
	// mutual asks for certificate authentication: the TLS handshake
	// carries the client certificate, the header only names the scheme.
	mutual bool
	// principal is the Kerberos principal that logs in, when one does.
	principal string
	presented atomic.Pointer[string]
}

// mutualAuth is the Authorization value of WS-Management's HTTPS mutual
// (client certificate) security profile.
const mutualAuth = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"

// Transport implements winrm.Transporter: the HTTP client is built by Dial.
func (p *poster) Transport(*winrm.Endpoint) error { return nil }

// statusError is a non-200 answer from the node.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("http status %d", e.code)
	}
	return fmt.Sprintf("http status %d: %s", e.code, e.body)
}

// maxBody bounds a response the worker reads: WinRM's envelopes are at
// most MaxEnvelopeSize (150 KiB), base64 output included.
const maxBody = 4 << 20

// Post implements winrm.Transporter.
func (p *poster) Post(_ *winrm.Client, m *soap.SoapMessage) (string, error) {
	req, err := http.NewRequest(http.MethodPost, p.url, strings.NewReader(m.String()))
	if err != nil {
		return "", fmt.Errorf("build winrm request: %w", err)
	}
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	if p.mutual {
		req.Header.Set("Authorization", mutualAuth)
	} else {
		req.SetBasicAuth(p.user, p.password)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("post winrm request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", fmt.Errorf("read winrm response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", &statusError{code: resp.StatusCode, body: faultText(string(body))}
	}
	return string(body), nil
}

// faultText shortens a SOAP fault to its message for an error.
func faultText(body string) string {
	for _, tag := range []string{"f:Message>", "s:Text xml:lang=\"en-US\">", "s:Text>"} {
		if _, rest, ok := strings.Cut(body, "<"+tag); ok {
			msg, _, _ := strings.Cut(rest, "</")
			return strings.TrimSpace(msg)
		}
	}
	const maxLen = 300
	if len(body) > maxLen {
		body = body[:maxLen]
	}
	return strings.TrimSpace(body)
}

// classify turns a failure to open the shell into a *transport.Error.
func (p *poster) classify(t transport.Target, err error) *transport.Error {
	var pe *pinError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var status *statusError
	var krb *kerberosError
	var e *transport.Error
	switch {
	case errors.Is(err, errNoSealing):
		return fail(transport.InvalidTarget, t, fmt.Errorf("%w: reach it over https, or (in a lab) unencrypted with --winrm-insecure-http", err))
	case errors.As(err, &pe):
		e = fail(transport.HostKeyMismatch, t, fmt.Errorf("certificate mismatch: %w", pe))
	case errors.As(err, &unknownCA):
		e = fail(transport.HostKeyUnknown, t, fmt.Errorf("the node's certificate is signed by no authority the worker trusts and the node pins no certificate: %w", err))
	case errors.As(err, &hostname):
		e = fail(transport.HostKeyUnknown, t, fmt.Errorf("the node's certificate is not valid for its address: %w", err))
	case errors.As(err, &invalid):
		e = fail(transport.HostKeyUnknown, t, fmt.Errorf("the node's certificate is not valid: %w", err))
	case errors.As(err, &krb):
		return fail(krb.kind, t, krb)
	case errors.As(err, &status) && status.code == http.StatusUnauthorized && p.principal != "":
		return fail(transport.AuthFailed, t, fmt.Errorf("the node refused the kerberos ticket of %s: %w", p.principal, err))
	case errors.As(err, &status) && status.code == http.StatusUnauthorized:
		return fail(transport.AuthFailed, t, fmt.Errorf("the node refused user %s: %w", t.User, err))
	case errors.As(err, &status):
		return fail(transport.Unreachable, t, fmt.Errorf("open winrm shell: %w", err))
	default:
		return fail(transport.Unreachable, t, fmt.Errorf("open winrm shell: %w", err))
	}
	if fp := p.presented.Load(); fp != nil {
		e.HostKey = *fp
	}
	return e
}

// conn is a Communicator over one WinRS shell.
type conn struct {
	shell  *winrm.Shell
	client *http.Client

	mu     sync.Mutex
	broken bool
	closed bool
}

// Alive implements transport.Communicator: the shell is usable until it is
// closed or a request on it failed.
func (c *conn) Alive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.broken && !c.closed
}

func (c *conn) markBroken() {
	c.mu.Lock()
	c.broken = true
	c.mu.Unlock()
}

// Run implements transport.Communicator: one command in the shell. The
// exit code is the command's; cancelling ctx sends WinRS's terminate
// signal. Output already received when the command ends is delivered
// before Run returns.
func (c *conn) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	command, err := c.shell.ExecuteWithContext(ctx, cmd)
	if err != nil {
		c.markBroken()
		return -1, fmt.Errorf("start remote command: %w: %w", transport.ErrNotStarted, err)
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	var wg sync.WaitGroup
	var outErr, errErr error
	wg.Go(func() { _, outErr = io.Copy(stdout, command.Stdout) })
	wg.Go(func() { _, errErr = io.Copy(stderr, command.Stderr) })
	if stdin != nil {
		wg.Go(func() {
			_, _ = io.Copy(command.Stdin, stdin)
			_ = command.Stdin.Close()
		})
	}
	command.Wait()
	wg.Wait()
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	// The library reports a failed Receive by closing the output pipes with
	// the error.
	if err := errors.Join(outErr, errErr); err != nil {
		c.markBroken()
		return -1, fmt.Errorf("wait for remote command: %w", err)
	}
	return command.ExitCode(), nil
}

// Upload implements transport.Communicator. Files reach a WinRM node
// through its runner (PowerShell), which knows the node's paths; the
// communicator alone moves no files.
func (c *conn) Upload(context.Context, string, io.Reader, os.FileMode) (string, error) {
	return "", fmt.Errorf("upload over winrm: %w", errors.ErrUnsupported)
}

// Download implements transport.Communicator; see Upload.
func (c *conn) Download(context.Context, string, io.Writer, int64) (int64, int64, error) {
	return 0, 0, fmt.Errorf("download over winrm: %w", errors.ErrUnsupported)
}

// Close implements transport.Communicator: it deletes the shell.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	broken := c.broken
	c.mu.Unlock()
	var err error
	if !broken {
		err = c.shell.Close()
	}
	c.client.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("delete winrm shell: %w", err)
	}
	return nil
}

// FetchCertificate runs only the TLS handshake with the node t describes
// and returns the fingerprint of the certificate it presents. It sends no
// credential and trusts nothing: it is how an operator sees a certificate
// before deciding to pin it, so the caller must show it and ask.
func FetchCertificate(ctx context.Context, t transport.Target, timeout time.Duration) (string, error) {
	if t.Port == 0 {
		t.Port = HTTPSPort
	}
	if t.Address == "" {
		return "", fail(transport.InvalidTarget, t, errors.New("the target has no address"))
	}
	if t.HTTP || t.InsecureHTTP {
		return "", fail(transport.InvalidTarget, t, errors.New("the node is reached over plain http: it presents no certificate"))
	}
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	var presented string
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: &tls.Config{
		MinVersion: tls.VersionTLS12, ServerName: t.Address,
		// Nothing is trusted: the handshake only shows the certificate.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) > 0 {
				presented = Fingerprint(cs.PeerCertificates[0].Raw)
			}
			return nil
		},
	}}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.DialContext(hctx, "tcp", net.JoinHostPort(t.Address, strconv.Itoa(t.Port)))
	if err != nil {
		return "", fail(transport.Unreachable, t, fmt.Errorf("tls handshake: %w", err))
	}
	_ = c.Close()
	if presented == "" {
		return "", fail(transport.Unreachable, t, errors.New("the node presented no certificate"))
	}
	return presented, nil
}
