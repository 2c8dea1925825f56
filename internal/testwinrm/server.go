package testwinrm

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/internal/transport/winrm"
)

// Server is the fake Windows host's WinRM listener.
type Server struct {
	// Host is the emulated node behind the listener.
	Host *Host
	// Port is the port it listens on, at 127.0.0.1.
	Port int
	// HTTPPort is its plain HTTP listener's port (see seal.go).
	HTTPPort int

	users map[string]string
	srv   *http.Server
	cert  atomic.Pointer[tls.Certificate]
	down  atomic.Int64 // unix nanoseconds until which requests are refused

	ntlmLogins atomic.Int64
	plain      plainListener
	// clientCA issues the client certificates the server maps to its
	// user (IssueClientCertificate); nil until one is issued.
	clientCA atomic.Pointer[certAuthority]
	// kerberos verifies Kerberos tickets (AcceptKerberos).
	kerberos kerberosService

	mu     sync.Mutex
	shells map[string]*shell
	nextID int
}

// Start starts a server for user with password on 127.0.0.1 over HTTPS,
// and over plain HTTP with NTLM message encryption (listenHTTP), emulating
// a host rooted in a temporary directory, and stops it when the test ends.
func Start(t testing.TB, user, password string) *Server {
	t.Helper()
	s := &Server{Host: NewHost(t.TempDir()), users: map[string]string{user: password}, shells: map[string]*shell{}}
	s.RotateCertificate(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ErrorLog: log.New(io.Discard, "", 0), ConnContext: withConnState}
	tlsLn := tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return s.cert.Load(), nil
	}, ClientAuth: tls.RequestClientCert}) // verified by authorize, as a WinRM listener maps certificates to users
	go func() { _ = s.srv.Serve(tlsLn) }()
	s.listenHTTP(t)
	s.Host.goDown = s.goDown
	t.Cleanup(s.Close)
	return s
}

// Close stops the listener and every command still running in a shell;
// detached steps are the host's (Host.Close).
func (s *Server) Close() {
	s.srv.Close()
	s.plain.srv.Close()
	s.mu.Lock()
	shells := s.shells
	s.shells = map[string]*shell{}
	s.mu.Unlock()
	for _, sh := range shells {
		sh.close()
	}
	s.Host.Close()
}

// RotateCertificate gives the server a new self-signed certificate for
// 127.0.0.1, as a reinstalled host would present.
func (s *Server) RotateCertificate(t testing.TB) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "stead-test-windows"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	s.cert.Store(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})
}

// Fingerprint is the current certificate's pin, as a node stores it.
func (s *Server) Fingerprint() string { return winrm.Fingerprint(s.cert.Load().Certificate[0]) }

// CertificatePEM is the current certificate, self-signed, as a CA file
// holds it.
func (s *Server) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Load().Certificate[0]})
}

// Target is a WinRM target for this server that pins its certificate.
func (s *Server) Target(user, credential string) transport.Target {
	return transport.Target{NodeID: "win-test", Address: "127.0.0.1", Port: s.Port, User: user, Kind: winrm.Kind, HostKey: s.Fingerprint(), Credential: credential}
}

// goDown refuses every request for d, as a rebooting host does.
func (s *Server) goDown(d time.Duration) { s.down.Store(time.Now().Add(d).UnixNano()) }

// envelope is the part of a WS-Management request the server reads.
type envelope struct {
	Header struct {
		Action    string `xml:"Action"`
		MessageID string `xml:"MessageID"`
		Selectors []struct {
			Name  string `xml:"Name,attr"`
			Value string `xml:",chardata"`
		} `xml:"SelectorSet>Selector"`
	} `xml:"Header"`
	Body struct {
		CommandLine *struct {
			Command   string   `xml:"Command"`
			Arguments []string `xml:"Arguments"`
		} `xml:"CommandLine"`
		Send *struct {
			Streams []struct {
				CommandID string `xml:"CommandId,attr"`
				End       bool   `xml:"End,attr"`
				Data      string `xml:",chardata"`
			} `xml:"Stream"`
		} `xml:"Send"`
		Receive *struct {
			Stream struct {
				CommandID string `xml:"CommandId,attr"`
			} `xml:"DesiredStream"`
		} `xml:"Receive"`
		Signal *struct {
			CommandID string `xml:"CommandId,attr"`
			Code      string `xml:"Code"`
		} `xml:"Signal"`
	} `xml:"Body"`
}

// WS-Management URIs the server answers with.
const (
	nsEnvelope   = "http://www.w3.org/2003/05/soap-envelope"
	nsAddressing = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsWSMan      = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	nsShell      = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
	nsTransfer   = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
	stateDone    = nsShell + "/CommandState/Done"
	stateRunning = nsShell + "/CommandState/Running"
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if time.Now().UnixNano() < s.down.Load() {
		http.Error(w, "the host is restarting", http.StatusServiceUnavailable)
		return
	}
	if !s.authorize(w, r) {
		return
	}
	if r.TLS == nil {
		s.servePlain(w, r)
		return
	}
	s.handle(w, r)
}

// handle answers an authorized SOAP request.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/wsman" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var env envelope
	if err := xml.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&env); err != nil {
		s.fault(w, "malformed request: "+err.Error())
		return
	}
	shellID := ""
	for _, sel := range env.Header.Selectors {
		if sel.Name == "ShellId" {
			shellID = sel.Value
		}
	}
	action := env.Header.Action
	switch {
	case action == nsTransfer+"/Create":
		s.mu.Lock()
		s.nextID++
		id := fmt.Sprintf("SHELL-%04d", s.nextID)
		s.shells[id] = &shell{commands: map[string]*command{}}
		s.mu.Unlock()
		s.reply(w, env, nsTransfer+"/CreateResponse", `<x:ResourceCreated xmlns:x="`+nsTransfer+`"><a:ReferenceParameters><w:SelectorSet><w:Selector Name="ShellId">`+id+`</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>`)
		return
	}
	s.mu.Lock()
	sh := s.shells[shellID]
	if action == nsTransfer+"/Delete" {
		delete(s.shells, shellID)
	}
	s.mu.Unlock()
	if sh == nil {
		s.fault(w, "the shell "+shellID+" does not exist")
		return
	}
	switch {
	case action == nsTransfer+"/Delete":
		sh.close()
		s.reply(w, env, nsTransfer+"/DeleteResponse", "")
	case action == nsShell+"/Command" && env.Body.CommandLine != nil:
		line := strings.Join(append([]string{env.Body.CommandLine.Command}, env.Body.CommandLine.Arguments...), " ")
		id := sh.start(s.Host, line)
		s.reply(w, env, nsShell+"/CommandResponse", `<rsp:CommandResponse><rsp:CommandId>`+id+`</rsp:CommandId></rsp:CommandResponse>`)
	case action == nsShell+"/Send" && env.Body.Send != nil:
		for _, st := range env.Body.Send.Streams {
			c := sh.command(st.CommandID)
			if c == nil {
				s.fault(w, "the command "+st.CommandID+" does not exist")
				return
			}
			data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(st.Data))
			if err != nil {
				s.fault(w, "malformed stdin: "+err.Error())
				return
			}
			c.send(data, st.End)
		}
		s.reply(w, env, nsShell+"/SendResponse", `<rsp:SendResponse/>`)
	case action == nsShell+"/Receive" && env.Body.Receive != nil:
		c := sh.command(env.Body.Receive.Stream.CommandID)
		if c == nil {
			s.fault(w, "the command does not exist")
			return
		}
		s.reply(w, env, nsShell+"/ReceiveResponse", c.receive(r.Context()))
	case action == nsShell+"/Signal" && env.Body.Signal != nil:
		if c := sh.command(env.Body.Signal.CommandID); c != nil && strings.HasSuffix(env.Body.Signal.Code, "/signal/terminate") {
			c.terminate()
		}
		s.reply(w, env, nsShell+"/SignalResponse", `<rsp:SignalResponse/>`)
	default:
		s.fault(w, "unsupported action "+action)
	}
}

// reply writes a SOAP response with the given action and body.
func (s *Server) reply(w http.ResponseWriter, env envelope, action, body string) {
	w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="%s" xmlns:a="%s" xmlns:w="%s" xmlns:rsp="%s"><s:Header><a:Action>%s</a:Action><a:RelatesTo>%s</a:RelatesTo></s:Header><s:Body>%s</s:Body></s:Envelope>`,
		nsEnvelope, nsAddressing, nsWSMan, nsShell, action, xmlText(env.Header.MessageID), body)
}

// fault answers with a SOAP fault, as WinRM does with status 500.
func (s *Server) fault(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="%s"><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason><s:Text xml:lang="en-US">%s</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`, nsEnvelope, xmlText(msg))
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// shell is one WinRS shell: its commands live in its job and end with it.
type shell struct {
	mu       sync.Mutex
	commands map[string]*command
	next     int
}

func (sh *shell) start(h *Host, line string) string {
	sh.mu.Lock()
	sh.next++
	id := fmt.Sprintf("CMD-%04d", sh.next)
	c := newCommand()
	sh.commands[id] = c
	sh.mu.Unlock()
	go c.run(h, line)
	return id
}

func (sh *shell) command(id string) *command {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.commands[id]
}

// close ends every command of the shell, as closing a WinRS shell ends
// its job object.
func (sh *shell) close() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, c := range sh.commands {
		c.terminate()
	}
}

// command is one running command line and what it has written so far.
type command struct {
	ctx       context.Context
	terminate context.CancelFunc
	stdinR    *io.PipeReader
	stdinW    *io.PipeWriter

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced when output or the end arrives
	out, err bytes.Buffer
	done     bool
	code     int
}

func newCommand() *command {
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	return &command{ctx: ctx, terminate: cancel, stdinR: r, stdinW: w, changed: make(chan struct{})}
}

func (c *command) run(h *Host, line string) {
	code := h.Exec(c.ctx, line, c.stdinR, streamWriter{c, &c.out}, streamWriter{c, &c.err})
	_ = c.stdinR.Close()
	c.mu.Lock()
	c.done, c.code = true, code
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *command) send(data []byte, end bool) {
	if len(data) > 0 {
		_, _ = c.stdinW.Write(data)
	}
	if end {
		_ = c.stdinW.Close()
	}
}

// streamWriter appends a command's output to one of its buffers.
type streamWriter struct {
	c   *command
	buf *bytes.Buffer
}

func (s streamWriter) Write(p []byte) (int, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.buf.Write(p)
	close(s.c.changed)
	s.c.changed = make(chan struct{})
	return len(p), nil
}

// receiveWait is how long a Receive waits for output before answering
// that the command still runs.
const receiveWait = time.Second

// maxChunk bounds the output one Receive answer carries.
const maxChunk = 32 << 10

// receive waits for output or the command's end and returns the body of
// a ReceiveResponse.
func (c *command) receive(ctx context.Context) string {
	timer := time.NewTimer(receiveWait)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if c.out.Len() > 0 || c.err.Len() > 0 || c.done {
			break
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			c.mu.Lock()
			defer c.mu.Unlock()
			return `<rsp:ReceiveResponse><rsp:CommandState CommandId="x" State="` + stateRunning + `"/></rsp:ReceiveResponse>`
		case <-ctx.Done():
			c.mu.Lock()
			defer c.mu.Unlock()
			return `<rsp:ReceiveResponse/>`
		}
	}
	defer c.mu.Unlock()
	var b strings.Builder
	b.WriteString("<rsp:ReceiveResponse>")
	for _, st := range []struct {
		name string
		buf  *bytes.Buffer
	}{{"stdout", &c.out}, {"stderr", &c.err}} {
		if st.buf.Len() > 0 {
			chunk := st.buf.Next(maxChunk)
			fmt.Fprintf(&b, `<rsp:Stream Name="%s">%s</rsp:Stream>`, st.name, base64.StdEncoding.EncodeToString(chunk))
		}
	}
	if c.done && c.out.Len() == 0 && c.err.Len() == 0 {
		fmt.Fprintf(&b, `<rsp:CommandState State="%s"><rsp:ExitCode>%d</rsp:ExitCode></rsp:CommandState>`, stateDone, c.code)
	} else {
		fmt.Fprintf(&b, `<rsp:CommandState State="%s"/>`, stateRunning)
	}
	b.WriteString("</rsp:ReceiveResponse>")
	return b.String()
}
