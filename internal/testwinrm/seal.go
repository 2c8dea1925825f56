package testwinrm

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/internal/transport/winrm"
)

// The server's plain HTTP listener, as Windows' default one on port 5985:
// it takes SOAP only sealed with the NTLM session security of the
// connection's login (MS-WSMV 2.2.9.1, MS-NLMP 3.4), and refuses it
// unencrypted unless told to allow it (AllowUnencrypted=true). The
// session keys are derived here from the password, by hand after
// MS-NLMP, not by the client's library, so a test passing shows the
// client and an independent implementation of the specification agree.

// NTLM flags of session security, granted when the client asks for them.
const (
	flagSign       = 0x00000010
	flagSeal       = 0x00000020
	flagAlwaysSign = 0x00008000
	flagExtended   = 0x00080000
	flag128        = 0x20000000
	flagKeyExch    = 0x40000000
	flag56         = 0x80000000
	sessionFlags   = flagSign | flagSeal | flagAlwaysSign | flag128 | flagKeyExch | flag56
)

const (
	sealedProtocol = "application/HTTP-SPNEGO-session-encrypted"
	sealedType     = `multipart/encrypted;protocol="` + sealedProtocol + `";boundary="Encrypted Boundary"`
	boundary       = "--Encrypted Boundary"
)

// MS-NLMP's magic constants for the signing and sealing keys.
var (
	clientSignMagic = []byte("session key to client-to-server signing key magic constant\x00")
	serverSignMagic = []byte("session key to server-to-client signing key magic constant\x00")
	clientSealMagic = []byte("session key to client-to-server sealing key magic constant\x00")
	serverSealMagic = []byte("session key to server-to-client sealing key magic constant\x00")
)

// plainListener is the state of the plain HTTP listener.
type plainListener struct {
	srv              *http.Server
	allowUnencrypted atomic.Bool
	tamper           atomic.Bool
	withholdSealing  atomic.Bool
	sealed, refused  atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]http.ConnState
}

// listenHTTP starts the plain HTTP listener on 127.0.0.1, refusing
// unencrypted SOAP.
func (s *Server) listenHTTP(t testing.TB) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.HTTPPort = ln.Addr().(*net.TCPAddr).Port
	s.plain.conns = map[net.Conn]http.ConnState{}
	s.plain.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ErrorLog: log.New(io.Discard, "", 0), ConnContext: withConnState,
		ConnState: func(c net.Conn, st http.ConnState) {
			s.plain.mu.Lock()
			defer s.plain.mu.Unlock()
			if st == http.StateClosed || st == http.StateHijacked {
				delete(s.plain.conns, c)
				return
			}
			s.plain.conns[c] = st
		}}
	go func() { _ = s.plain.srv.Serve(ln) }()
}

// HTTPTarget is a WinRM target for this server's plain HTTP listener,
// with message encryption.
func (s *Server) HTTPTarget(user, credential string) transport.Target {
	return transport.Target{NodeID: "win-test", Address: "127.0.0.1", Port: s.HTTPPort, User: user, Kind: winrm.Kind, Credential: credential, HTTP: true}
}

// AllowUnencrypted makes the plain HTTP listener take unencrypted SOAP
// too, as `winrm set winrm/config/service @{AllowUnencrypted="true"}`
// does.
func (s *Server) AllowUnencrypted(allow bool) { s.plain.allowUnencrypted.Store(allow) }

// TamperResponses makes the plain HTTP listener flip a bit of every sealed
// answer's signature, as traffic altered on the way would arrive.
func (s *Server) TamperResponses() { s.plain.tamper.Store(true) }

// DropIdleConnections closes the plain HTTP listener's connections, and
// with them their NTLM contexts, as WinRM's idle timeout does: once none
// is serving a request (for a second at most), so none is cut mid-answer.
func (s *Server) DropIdleConnections() {
	deadline := time.Now().Add(time.Second)
	for {
		s.plain.mu.Lock()
		busy := false
		for _, st := range s.plain.conns {
			busy = busy || st == http.StateActive
		}
		if !busy || time.Now().After(deadline) {
			for c, st := range s.plain.conns {
				if st == http.StateIdle {
					_ = c.Close()
				}
			}
			s.plain.mu.Unlock()
			return
		}
		s.plain.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

// WithholdSealing makes the server grant no NTLM signing or sealing, as a
// server that only authenticates (or a man in the middle editing the
// challenge) would.
func (s *Server) WithholdSealing() { s.plain.withholdSealing.Store(true) }

// grantedSessionFlags are the session security flags a challenge may
// grant.
func (s *Server) grantedSessionFlags() uint32 {
	if s.plain.withholdSealing.Load() {
		return 0
	}
	return sessionFlags
}

// SealedRequests counts the sealed requests the plain HTTP listener
// unsealed and verified.
func (s *Server) SealedRequests() int { return int(s.plain.sealed.Load()) }

// RefusedRequests counts the requests the plain HTTP listener refused for
// being unencrypted or failing their signature.
func (s *Server) RefusedRequests() int { return int(s.plain.refused.Load()) }

// servePlain answers an authorized request on the plain HTTP listener.
func (s *Server) servePlain(w http.ResponseWriter, r *http.Request) {
	st, _ := r.Context().Value(connKey{}).(*connState)
	switch {
	case strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/encrypted") && st != nil:
		s.serveSealed(w, r, st)
	case r.ContentLength == 0:
		// The end of an NTLM handshake a client runs before its first
		// message, so that it is already sealed: WinRM answers 200.
		w.WriteHeader(http.StatusOK)
	case s.plain.allowUnencrypted.Load():
		s.handle(w, r)
	default:
		s.plain.refused.Add(1)
		s.fault(w, "the WinRM service refuses unencrypted traffic on its HTTP listener (AllowUnencrypted is false)")
	}
}

// serveSealed unseals a request, serves it and seals the answer.
func (s *Server) serveSealed(w http.ResponseWriter, r *http.Request, st *connState) {
	st.mu.Lock()
	sc := st.seal
	st.mu.Unlock()
	body, err := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	var plain []byte
	var contentType string
	switch {
	case sc == nil:
		err = errors.New("the connection has no NTLM sealing context")
	case err == nil:
		contentType, plain, err = sc.unseal(body)
	}
	if err != nil {
		s.plain.refused.Add(1)
		// The context is out of step with the client's now: the
		// connection must authenticate again.
		st.mu.Lock()
		st.authenticated, st.seal = false, nil
		st.mu.Unlock()
		http.Error(w, "bad sealed message: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.plain.sealed.Add(1)
	inner := r.Clone(r.Context())
	inner.Body, inner.ContentLength = io.NopCloser(bytes.NewReader(plain)), int64(len(plain))
	inner.Header.Set("Content-Type", contentType)
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	s.handle(rec, inner)
	answerType := rec.header.Get("Content-Type")
	if answerType == "" {
		answerType = "application/soap+xml;charset=UTF-8"
	}
	signature, sealed := sc.seal(rec.body.Bytes())
	if s.plain.tamper.Load() {
		signature[6] ^= 1
	}
	w.Header().Set("Content-Type", sealedType)
	w.WriteHeader(rec.code)
	_, _ = w.Write(frame(signature, sealed, answerType))
}

// recorder keeps an answer to seal it.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

// sealContext is one connection's NTLM session security, the server's
// side: MS-NLMP 3.4.4 (MAC with extended session security) and 3.4.3
// (sealing), with the keys of 3.4.5.
type sealContext struct {
	mu            sync.Mutex
	keyExch       bool
	inSign        []byte // the client's signing key
	outSign       []byte
	in, out       *rc4.Cipher
	inSeq, outSeq uint32
}

// newSealContext derives the session keys of an AUTHENTICATE_MESSAGE that
// verifyNTLM accepted, under the flags the challenge offered; nil when
// the client negotiated no sealing.
func (s *Server) newSealContext(msg []byte, offered uint32) (*sealContext, error) {
	if len(msg) < 64 {
		return nil, errors.New("authenticate message without flags")
	}
	flags := binary.LittleEndian.Uint32(msg[60:64]) & offered
	if flags&flagSeal == 0 || flags&flagSign == 0 {
		return nil, nil
	}
	if flags&flagExtended == 0 {
		return nil, errors.New("sealing without extended session security (NTLMv1's keys) is not served")
	}
	nt, err1 := field(msg, 20)
	domain, err2 := field(msg, 28)
	user, err3 := field(msg, 36)
	encryptedKey, err4 := field(msg, 52)
	if err := errors.Join(err1, err2, err3, err4); err != nil || len(nt) < 16 {
		return nil, errors.New("malformed authenticate message")
	}
	password := s.users[fromUTF16LE(user)]
	exported, err := exportedSessionKey(ntowfv2(password, fromUTF16LE(user), fromUTF16LE(domain)), nt[:16], flags, encryptedKey)
	if err != nil {
		return nil, err
	}
	return sealContextFor(exported, flags), nil
}

// exportedSessionKey is NTLMv2's session key (MS-NLMP 3.3.2, 3.4.5.1): the
// session base key, which is also the key exchange key, or under key
// exchange the client's random key it encrypts.
func exportedSessionKey(responseKeyNT, ntProof []byte, flags uint32, encryptedKey []byte) ([]byte, error) {
	base := hmacMD5(responseKeyNT, ntProof)
	if flags&flagKeyExch == 0 {
		return base, nil
	}
	if len(encryptedKey) != 16 {
		return nil, errors.New("key exchange without a 16-byte encrypted session key")
	}
	c, _ := rc4.NewCipher(base)
	random := make([]byte, 16)
	c.XORKeyStream(random, encryptedKey)
	return random, nil
}

// sealContextFor is the server's side of the session security of
// exported under flags (MS-NLMP 3.4.5.2, 3.4.5.3).
func sealContextFor(exported []byte, flags uint32) *sealContext {
	sealKey := func(magic []byte) []byte {
		k := exported
		switch {
		case flags&flag128 != 0:
		case flags&flag56 != 0:
			k = k[:7]
		default:
			k = k[:5]
		}
		sum := md5.Sum(append(append([]byte{}, k...), magic...))
		return sum[:]
	}
	sign := func(magic []byte) []byte {
		sum := md5.Sum(append(append([]byte{}, exported...), magic...))
		return sum[:]
	}
	in, _ := rc4.NewCipher(sealKey(clientSealMagic))
	out, _ := rc4.NewCipher(sealKey(serverSealMagic))
	return &sealContext{keyExch: flags&flagKeyExch != 0, inSign: sign(clientSignMagic), outSign: sign(serverSignMagic), in: in, out: out}
}

// signature is MAC(): version 1, the first 8 bytes of the HMAC of the
// sequence number and the message (encrypted with the sealing RC4 under
// key exchange), and the sequence number.
func (c *sealContext) signature(handle *rc4.Cipher, key []byte, seq uint32, msg []byte) []byte {
	var seqBytes [4]byte
	binary.LittleEndian.PutUint32(seqBytes[:], seq)
	checksum := hmacMD5(key, seqBytes[:], msg)[:8]
	if c.keyExch {
		handle.XORKeyStream(checksum, checksum)
	}
	sig := binary.LittleEndian.AppendUint32(nil, 1)
	sig = append(sig, checksum...)
	return append(sig, seqBytes[:]...)
}

// seal encrypts an answer and signs it.
func (c *sealContext) seal(msg []byte) (signature, sealed []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sealed = make([]byte, len(msg))
	c.out.XORKeyStream(sealed, msg)
	signature = c.signature(c.out, c.outSign, c.outSeq, msg)
	c.outSeq++
	return signature, sealed
}

// unseal reads a sealed request body, decrypts it and verifies its
// signature and sequence number.
func (c *sealContext) unseal(body []byte) (contentType string, msg []byte, err error) {
	contentType, signature, sealed, err := unframe(body)
	if err != nil {
		return "", nil, err
	}
	msg, err = c.open(signature, sealed)
	return contentType, msg, err
}

// open decrypts a sealed message and verifies its signature.
func (c *sealContext) open(signature, sealed []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := make([]byte, len(sealed))
	c.in.XORKeyStream(msg, sealed)
	if !hmac.Equal(c.signature(c.in, c.inSign, c.inSeq, msg), signature) {
		return nil, errors.New("the signature does not verify")
	}
	c.inSeq++
	return msg, nil
}

// frame is the multipart/encrypted body of a sealed answer, as Windows
// writes it.
func frame(signature, sealed []byte, contentType string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\r\n\tContent-Type: %s\r\n\tOriginalContent: type=%s;Length=%d\r\n%s\r\n\tContent-Type: application/octet-stream\r\n",
		boundary, sealedProtocol, contentType, len(sealed), boundary)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(signature))))
	b.Write(signature)
	b.Write(sealed)
	b.WriteString(boundary + "--\r\n")
	return b.Bytes()
}

// unframe reads a sealed request body: the original content type, the
// signature and the sealed message.
func unframe(body []byte) (contentType string, signature, sealed []byte, err error) {
	const octets = "Content-Type: application/octet-stream\r\n"
	head, data, ok := bytes.Cut(body, []byte(boundary+"\r\n\t"+octets))
	if !ok {
		return "", nil, nil, errors.New("no octet-stream part")
	}
	lines := strings.Split(string(head), "\r\n")
	if len(lines) != 4 || lines[0] != boundary || strings.TrimSpace(lines[1]) != "Content-Type: "+sealedProtocol || lines[3] != "" {
		return "", nil, nil, errors.New("want one " + sealedProtocol + " part with its OriginalContent")
	}
	original, ok := strings.CutPrefix(strings.TrimSpace(lines[2]), "OriginalContent: type=")
	i := strings.LastIndex(original, ";Length=")
	if !ok || i < 0 {
		return "", nil, nil, errors.New("malformed OriginalContent")
	}
	length, err := strconv.Atoi(original[i+len(";Length="):])
	if err != nil {
		return "", nil, nil, errors.New("malformed OriginalContent length")
	}
	data, ok = bytes.CutSuffix(data, []byte(boundary+"--\r\n"))
	if !ok || len(data) < 4+16 || binary.LittleEndian.Uint32(data) != 16 || len(data) != 4+16+length {
		return "", nil, nil, errors.New("want a 16-byte signature and the sealed message of the stated length")
	}
	return original[:i], data[4:20], data[20:], nil
}
