package winrm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bodgit/ntlmssp"
)

// NTLM message encryption over plain HTTP (MS-WSMV 2.2.9.1): Windows'
// default WinRM listener on port 5985 takes no unencrypted SOAP
// (AllowUnencrypted=false), so every message is sealed with the NTLM
// session security the authentication sets up: RC4 with a key only the
// two ends derive from the password, and a signature over each message
// with a sequence number, so the traffic is neither read, altered, nor
// replayed on the way. The body travels as a multipart/encrypted
// document: a part saying what the original content was and how long,
// then an octet-stream part holding the signature's length (4 bytes,
// little-endian), the 16-byte signature and the sealed message.
//
// Over HTTPS there is no message encryption, as Windows does: TLS already
// protects the traffic, and a pinned certificate authenticates the node,
// which NTLM does not.

const (
	sealedProtocol    = "application/HTTP-SPNEGO-session-encrypted"
	sealedBoundary    = "--Encrypted Boundary"
	sealedContentType = `multipart/encrypted;protocol="` + sealedProtocol + `";boundary="Encrypted Boundary"`
	soapContentType   = "application/soap+xml;charset=UTF-8"
	// signatureLen is the size of an NTLM message signature.
	signatureLen = 16
)

// NTLM negotiate flags a sealed session must have been granted: signing,
// sealing, extended session security (the NTLMv2 keys) and 128-bit keys.
const (
	flagSign        = 0x00000010
	flagSeal        = 0x00000020
	flagExtendedSec = 0x00080000
	flag128         = 0x20000000
	sealedFlags     = flagSign | flagSeal | flagExtendedSec | flag128
	authFlagsOffset = 60 // of NegotiateFlags in an AUTHENTICATE_MESSAGE
	authMinLength   = authFlagsOffset + 4
)

// A sealer keeps at most maxIdleSessions idle sessions, each for
// sealedSessionTTL at most, as the HTTPS transport keeps its connections.
const (
	maxIdleSessions  = 4
	sealedSessionTTL = 90 * time.Second
)

// errNoSealing is a node that does not grant NTLM sealing: nothing is
// sent to it, since the message would travel in clear.
var errNoSealing = errors.New("the node does not grant NTLM message encryption (signing, sealing, 128-bit NTLMv2 keys)")

// errSessionGone is a session whose one connection was closed: nothing
// was sent on it, so the message goes out on a new session.
var errSessionGone = errors.New("the sealed session's connection is closed")

// sealer is the http.RoundTripper of a target reached over plain HTTP
// with an NTLM credential: it takes the poster's plain SOAP request and
// sends it sealed, and hands back the unsealed answer.
//
// It uses github.com/bodgit/ntlmssp (NTLMv2 and its session security)
// directly rather than masterzen/winrm's Encryption transporter, which is
// built on it but does not fit this transport: it makes its own
// http.Client (Go's defaults, none of the worker's connect and response
// timeouts), runs a new NTLM handshake before every message and, when
// that fails, posts the message unencrypted; it accepts an unencrypted
// answer to a sealed request (a man in the middle could answer in clear),
// drops the HTTP status (so a refused password is no AuthFailed), indexes
// a malformed answer before checking its length, and shares one security
// context between the concurrent requests the library makes (a command's
// Send and Receive), where NTLM over HTTP binds a context to one
// connection.
//
// Here a session is one TCP connection, its own NTLM handshake (an empty
// POST, so the first SOAP message is already sealed) and its security
// context; a request takes an idle session or opens one, so concurrent
// requests each have theirs, and a session is never dialled twice.
type sealer struct {
	url                    string
	user, domain, password string
	dial                   func(ctx context.Context, network, addr string) (net.Conn, error)
	// connectTimeout bounds opening a session: the connect and the
	// handshake. responseTimeout bounds waiting for an answer.
	connectTimeout, responseTimeout time.Duration

	mu   sync.Mutex
	idle []*sealedSession
}

// sealedSession is one authenticated connection and its NTLM context.
type sealedSession struct {
	http *http.Transport // dials at most once
	sec  *ntlmssp.SecuritySession
}

// newSealer is the sealing round tripper for url, logging in as user
// ("DOMAIN\user", or a local user) with password.
func newSealer(url, user, password string, dial func(ctx context.Context, network, addr string) (net.Conn, error), connectTimeout, responseTimeout time.Duration) *sealer {
	s := &sealer{url: url, user: user, password: password, dial: dial, connectTimeout: connectTimeout, responseTimeout: responseTimeout}
	// The same split as the NTLM of HTTPS (go-ntlmssp): a UPN stays the
	// user name, with no domain.
	if domain, name, ok := strings.Cut(user, `\`); ok {
		s.domain, s.user = domain, name
	}
	return s
}

// RoundTrip implements http.RoundTripper.
func (s *sealer) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read winrm request: %w", err)
		}
	}
	for {
		sess := s.take()
		fresh := sess == nil
		if fresh {
			var err error
			if sess, err = s.open(req.Context()); err != nil {
				return nil, err
			}
		}
		resp, reuse, err := sess.exchange(req, body)
		if err != nil {
			sess.close()
			if errors.Is(err, errSessionGone) && !fresh {
				continue // an idle session the node had closed: nothing was sent
			}
			return nil, err
		}
		if reuse {
			s.put(sess)
		} else {
			sess.close()
		}
		return resp, nil
	}
}

// CloseIdleConnections closes the idle sessions, for
// http.Client.CloseIdleConnections.
func (s *sealer) CloseIdleConnections() {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, sess := range idle {
		sess.close()
	}
}

// take is an idle session, or nil.
func (s *sealer) take() *sealedSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.idle)
	if n == 0 {
		return nil
	}
	sess := s.idle[n-1]
	s.idle = s.idle[:n-1]
	return sess
}

func (s *sealer) put(sess *sealedSession) {
	s.mu.Lock()
	if len(s.idle) < maxIdleSessions {
		s.idle = append(s.idle, sess)
		sess = nil
	}
	s.mu.Unlock()
	if sess != nil {
		sess.close()
	}
}

// open dials a new session and runs its NTLM handshake.
func (s *sealer) open(ctx context.Context) (*sealedSession, error) {
	var dialed atomic.Bool
	sess := &sealedSession{http: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dialed.Swap(true) {
				return nil, errSessionGone
			}
			return s.dial(ctx, network, addr)
		},
		MaxConnsPerHost:       1,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       sealedSessionTTL,
		ResponseHeaderTimeout: s.responseTimeout,
		DisableCompression:    true,
	}}
	hctx, cancel := context.WithTimeout(ctx, s.connectTimeout)
	defer cancel()
	if err := sess.handshake(hctx, s); err != nil {
		sess.close()
		return nil, err
	}
	return sess, nil
}

// handshake authenticates the session's connection with NTLMv2 through
// empty POSTs and keeps the security context it sets up. A node that
// refuses the password answers 401, which the poster classifies as
// AuthFailed.
func (sess *sealedSession) handshake(ctx context.Context, s *sealer) error {
	client, err := ntlmssp.NewClient(ntlmssp.SetUserInfo(s.user, s.password), ntlmssp.SetDomain(s.domain), ntlmssp.SetVersion(ntlmssp.DefaultVersion()))
	if err != nil {
		return fmt.Errorf("set up ntlm: %w", err)
	}
	negotiate, err := client.Authenticate(nil, nil)
	if err != nil {
		return fmt.Errorf("ntlm negotiate message: %w", err)
	}
	resp, body, err := sess.authPost(ctx, s.url, negotiate)
	if err != nil {
		return err
	}
	challenge, err := negotiateToken(resp.Header)
	switch {
	case resp.StatusCode == http.StatusOK:
		return errors.New("the node answered the NTLM negotiation without a challenge: it authenticates no one")
	case resp.StatusCode != http.StatusUnauthorized:
		return &statusError{code: resp.StatusCode, body: faultText(body)}
	case err != nil:
		return &statusError{code: resp.StatusCode, body: err.Error()}
	}
	authenticate, err := client.Authenticate(challenge, nil)
	if err != nil {
		return fmt.Errorf("answer the node's ntlm challenge: %w", err)
	}
	if len(authenticate) < authMinLength || binary.LittleEndian.Uint32(authenticate[authFlagsOffset:])&sealedFlags != sealedFlags || client.SecuritySession() == nil {
		return errNoSealing
	}
	resp, body, err = sess.authPost(ctx, s.url, authenticate)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &statusError{code: resp.StatusCode, body: faultText(body)}
	}
	sess.sec = client.SecuritySession()
	return nil
}

// authPost posts an empty message carrying one NTLM handshake token.
func (sess *sealedSession) authPost(ctx context.Context, url string, token []byte) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, http.NoBody)
	if err != nil {
		return nil, "", fmt.Errorf("build winrm request: %w", err)
	}
	req.Header.Set("Content-Type", soapContentType)
	req.Header.Set("Authorization", "Negotiate "+base64.StdEncoding.EncodeToString(token))
	resp, err := sess.http.RoundTrip(req)
	if err != nil {
		return nil, "", fmt.Errorf("ntlm handshake: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, "", fmt.Errorf("ntlm handshake: read response: %w", err)
	}
	return resp, string(body), nil
}

// negotiateToken is the NTLM token of a 401's "Negotiate <base64>"
// challenge.
func negotiateToken(h http.Header) ([]byte, error) {
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, token, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "Negotiate") || strings.TrimSpace(token) == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
		if err != nil {
			return nil, fmt.Errorf("the node's ntlm challenge is not base64: %w", err)
		}
		return b, nil
	}
	return nil, errors.New("the node offers no NTLM challenge (no Negotiate authentication)")
}

// exchange sends one sealed message and unseals the answer. reuse is
// false when the session's context can no longer be trusted to be in step
// with the node's.
func (sess *sealedSession) exchange(req *http.Request, body []byte) (*http.Response, bool, error) {
	sealed, signature, err := sess.sec.Wrap(body)
	if err != nil {
		return nil, false, fmt.Errorf("seal winrm request: %w", err)
	}
	out, err := http.NewRequestWithContext(req.Context(), http.MethodPost, req.URL.String(), bytes.NewReader(frameSealed(signature, sealed, soapContentType)))
	if err != nil {
		return nil, false, fmt.Errorf("build winrm request: %w", err)
	}
	out.Header.Set("Content-Type", sealedContentType)
	resp, err := sess.http.RoundTrip(out)
	if err != nil {
		return nil, false, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	_ = resp.Body.Close()
	if err != nil {
		return nil, false, fmt.Errorf("read winrm response: %w", err)
	}
	if len(data) > maxBody {
		return nil, false, fmt.Errorf("winrm response exceeds %d bytes", maxBody)
	}
	answer := &http.Response{
		Status: resp.Status, StatusCode: resp.StatusCode, Proto: resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
		Header: http.Header{}, Request: req,
	}
	if !strings.Contains(resp.Header.Get("Content-Type"), `protocol="`+sealedProtocol+`"`) {
		// An answer in clear is never a result: it is what a man in the
		// middle could send. A failure status (a 401, a restarting
		// node's 503) is passed on as the failure it is.
		if resp.StatusCode == http.StatusOK {
			return nil, false, errors.New("the node answered a sealed request in clear: refused, as anyone on the way could have answered it")
		}
		answer.Header.Set("Content-Type", resp.Header.Get("Content-Type"))
		answer.Body, answer.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
		return answer, false, nil
	}
	contentType, signature, sealed, err := parseSealed(data)
	if err != nil {
		return nil, false, fmt.Errorf("unseal winrm response: %w", err)
	}
	plain, err := sess.sec.Unwrap(sealed, signature)
	if err != nil {
		return nil, false, fmt.Errorf("unseal winrm response: its NTLM signature does not verify (altered on the way?): %w", err)
	}
	answer.Header.Set("Content-Type", contentType)
	answer.Body, answer.ContentLength = io.NopCloser(bytes.NewReader(plain)), int64(len(plain))
	return answer, !resp.Close, nil
}

func (sess *sealedSession) close() { sess.http.CloseIdleConnections() }

// frameSealed is the multipart/encrypted body of a sealed message, as
// Windows and pywinrm write it.
func frameSealed(signature, sealed []byte, contentType string) []byte {
	var b bytes.Buffer
	b.WriteString(sealedBoundary + "\r\n")
	b.WriteString("\tContent-Type: " + sealedProtocol + "\r\n")
	b.WriteString("\tOriginalContent: type=" + contentType + ";Length=" + strconv.Itoa(len(sealed)) + "\r\n")
	b.WriteString(sealedBoundary + "\r\n")
	b.WriteString("\tContent-Type: application/octet-stream\r\n")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(signature)))
	b.Write(signature)
	b.Write(sealed)
	b.WriteString(sealedBoundary + "--\r\n")
	return b.Bytes()
}

// parseSealed reads a multipart/encrypted body holding one sealed
// message: the original content type, the signature and the sealed
// bytes, whose length the body states. Anything else is an error, never
// a panic: the body comes from the network.
func parseSealed(body []byte) (contentType string, signature, sealed []byte, err error) {
	rest, ok := bytes.CutPrefix(body, []byte(sealedBoundary+"\r\n"))
	if !ok {
		return "", nil, nil, errors.New("no opening boundary")
	}
	head, rest, ok := bytes.Cut(rest, []byte(sealedBoundary+"\r\n"))
	if !ok {
		return "", nil, nil, errors.New("no second part")
	}
	length, protocol := -1, false
	for _, line := range strings.Split(strings.TrimSuffix(string(head), "\r\n"), "\r\n") {
		name, value, _ := strings.Cut(strings.TrimSpace(line), ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-type":
			protocol = strings.EqualFold(value, sealedProtocol)
		case "originalcontent":
			if contentType, length, err = parseOriginalContent(value); err != nil {
				return "", nil, nil, err
			}
		}
	}
	if !protocol {
		return "", nil, nil, fmt.Errorf("the first part is not %s", sealedProtocol)
	}
	if length < 0 {
		return "", nil, nil, errors.New("no OriginalContent header")
	}
	line, data, ok := bytes.Cut(rest, []byte("\r\n"))
	if name, value, _ := strings.Cut(strings.TrimSpace(string(line)), ":"); !ok || !strings.EqualFold(strings.TrimSpace(name), "Content-Type") || !strings.EqualFold(strings.TrimSpace(value), "application/octet-stream") {
		return "", nil, nil, errors.New("the second part is not application/octet-stream")
	}
	if data, ok = bytes.CutSuffix(data, []byte(sealedBoundary+"--\r\n")); !ok {
		return "", nil, nil, errors.New("no closing boundary")
	}
	if len(data) < 4 || binary.LittleEndian.Uint32(data) != signatureLen || len(data) < 4+signatureLen {
		return "", nil, nil, fmt.Errorf("want a %d-byte signature", signatureLen)
	}
	signature, sealed = data[4:4+signatureLen], data[4+signatureLen:]
	if len(sealed) != length {
		return "", nil, nil, fmt.Errorf("the sealed message has %d bytes, its header says %d", len(sealed), length)
	}
	return contentType, signature, sealed, nil
}

// parseOriginalContent reads "type=TYPE[;PARAM=VALUE...];Length=N".
func parseOriginalContent(v string) (string, int, error) {
	var params []string
	length := -1
	for i, p := range strings.Split(v, ";") {
		p = strings.TrimSpace(p)
		name, value, _ := strings.Cut(p, "=")
		switch {
		case i == 0 && strings.EqualFold(name, "type") && value != "":
			params = append(params, value)
		case i == 0:
			return "", 0, fmt.Errorf("OriginalContent %q: want type=", v)
		case strings.EqualFold(name, "Length"):
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 || n > maxBody {
				return "", 0, fmt.Errorf("OriginalContent length %q: want 0-%d", value, maxBody)
			}
			length = n
		default:
			params = append(params, p)
		}
	}
	if length < 0 {
		return "", 0, fmt.Errorf("OriginalContent %q: no Length", v)
	}
	return strings.Join(params, ";"), length, nil
}
