package testwinrm

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"unicode/utf16"

	//lint:ignore SA1019 NTLM is defined over MD4; this is the test server's side of it.
	"golang.org/x/crypto/md4"
)

// The server's side of NTLMv2 ([MS-NLMP]) over HTTP, as WinRM does it:
// the handshake (negotiate, challenge, authenticate) is bound to one TCP
// connection, which stays authenticated afterwards.

// connState is what the server knows about one TCP connection.
type connState struct {
	mu            sync.Mutex
	challenge     []byte
	flags         uint32 // the challenge's
	authenticated bool
	// seal is the connection's NTLM session security, when the client
	// negotiated sealing (see seal.go).
	seal *sealContext
}

type connKey struct{}

// withConnState gives each connection its state, for http.Server.ConnContext.
func withConnState(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connState{})
}

// NTLM flags the challenge sets: Unicode, NTLM, extended session security,
// target info. Never LM_KEY. The session security flags the client asks
// for (sessionFlags, seal.go) are granted on top, as Windows does.
const challengeFlags = 0x00000001 | 0x00000200 | 0x00080000 | 0x00800000

var ntlmSignature = []byte("NTLMSSP\x00")

// authorize reports whether r may be served. It answers the NTLM
// handshake itself (and reports false) while one is under way.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	st, _ := r.Context().Value(connKey{}).(*connState)
	auth := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(auth, " ")
	switch {
	case auth == mutualAuth:
		if s.verifyClientCertificate(r) == nil {
			return true
		}
	case strings.EqualFold(scheme, "Basic"):
		user, pass, ok := r.BasicAuth()
		if want, known := s.users[user]; ok && known && pass == want {
			return true
		}
	case strings.EqualFold(scheme, "Negotiate") && !isNTLM(token):
		if s.verifyKerberos(token) == nil {
			return true
		}
	case (strings.EqualFold(scheme, "Negotiate") || strings.EqualFold(scheme, "NTLM")) && st != nil:
		msg, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
		if err != nil || len(msg) < 12 || !bytes.Equal(msg[:8], ntlmSignature) {
			break
		}
		switch binary.LittleEndian.Uint32(msg[8:12]) {
		case 1:
			challenge := make([]byte, 8)
			_, _ = rand.Read(challenge)
			flags := uint32(challengeFlags)
			if len(msg) >= 16 {
				flags |= binary.LittleEndian.Uint32(msg[12:16]) & s.grantedSessionFlags()
			}
			st.mu.Lock()
			st.challenge, st.flags, st.authenticated, st.seal = challenge, flags, false, nil
			st.mu.Unlock()
			w.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(challengeMessage(challenge, flags)))
			w.WriteHeader(http.StatusUnauthorized)
			return false
		case 3:
			st.mu.Lock()
			challenge, flags := st.challenge, st.flags
			st.challenge = nil
			st.mu.Unlock()
			if challenge != nil && s.verifyNTLM(msg, challenge) == nil {
				seal, err := s.newSealContext(msg, flags)
				if err != nil {
					break
				}
				s.ntlmLogins.Add(1)
				st.mu.Lock()
				st.authenticated, st.seal = true, seal
				st.mu.Unlock()
				return true
			}
		}
	case auth == "" && st != nil:
		st.mu.Lock()
		ok := st.authenticated
		st.mu.Unlock()
		if ok {
			return true
		}
	}
	w.Header().Add("WWW-Authenticate", "Negotiate")
	w.Header().Add("WWW-Authenticate", `Basic realm="WSMAN"`)
	w.WriteHeader(http.StatusUnauthorized)
	return false
}

// NTLMLogins counts the connections authenticated with NTLM.
func (s *Server) NTLMLogins() int { return int(s.ntlmLogins.Load()) }

// challengeMessage is a CHALLENGE_MESSAGE with an empty target name and a
// target info list holding only its terminator.
func challengeMessage(challenge []byte, flags uint32) []byte {
	const headerLen = 48
	info := []byte{0, 0, 0, 0} // MsvAvEOL
	var b bytes.Buffer
	b.Write(ntlmSignature)
	_ = binary.Write(&b, binary.LittleEndian, uint32(2))
	_ = binary.Write(&b, binary.LittleEndian, [2]uint16{0, 0}) // target name
	_ = binary.Write(&b, binary.LittleEndian, uint32(headerLen))
	_ = binary.Write(&b, binary.LittleEndian, flags)
	b.Write(challenge)
	b.Write(make([]byte, 8))
	_ = binary.Write(&b, binary.LittleEndian, [2]uint16{uint16(len(info)), uint16(len(info))})
	_ = binary.Write(&b, binary.LittleEndian, uint32(headerLen))
	b.Write(info)
	return b.Bytes()
}

// field reads the variable-length field whose descriptor starts at off.
func field(msg []byte, off int) ([]byte, error) {
	if len(msg) < off+8 {
		return nil, errors.New("short message")
	}
	n := int(binary.LittleEndian.Uint16(msg[off:]))
	at := int(binary.LittleEndian.Uint32(msg[off+4:]))
	if at+n > len(msg) {
		return nil, errors.New("field beyond the message")
	}
	return msg[at : at+n], nil
}

func utf16le(s string) []byte {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return b
}

func fromUTF16LE(b []byte) string {
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(units))
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// verifyNTLM checks an AUTHENTICATE_MESSAGE's NTLMv2 response against the
// user's password and the challenge sent.
func (s *Server) verifyNTLM(msg, challenge []byte) error {
	nt, err1 := field(msg, 20)
	domain, err2 := field(msg, 28)
	user, err3 := field(msg, 36)
	if err := errors.Join(err1, err2, err3); err != nil || len(nt) < 16 {
		return errors.New("malformed authenticate message")
	}
	password, ok := s.users[fromUTF16LE(user)]
	if !ok {
		return errors.New("unknown user")
	}
	v2 := ntowfv2(password, fromUTF16LE(user), fromUTF16LE(domain))
	if !hmac.Equal(hmacMD5(v2, challenge, nt[16:]), nt[:16]) {
		return errors.New("wrong password")
	}
	return nil
}

// ntowfv2 is NTLMv2's ResponseKeyNT of a user's password.
func ntowfv2(password, user, domain string) []byte {
	h := md4.New()
	h.Write(utf16le(password))
	return hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
}
