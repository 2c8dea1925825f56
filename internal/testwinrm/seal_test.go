package testwinrm

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bodgit/ntlmssp"
	"github.com/stretchr/testify/require"
)

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// TestSealKnownAnswer checks the server's key derivation and unsealing
// against the NTLMv2 example of MS-NLMP 4.2.4: user "User", domain
// "Domain", password "Password", random session key 0x55 × 16, "Plaintext"
// sealed by the client with sequence number 0.
func TestSealKnownAnswer(t *testing.T) {
	const flags = 0xe28a8233 // the example's: key exchange, 56, 128, extended session security, seal, sign...
	responseKeyNT := ntowfv2("Password", "User", "Domain")
	require.Equal(t, unhex(t, "0c868a403bfd7a93a3001ef22ef02e3f"), responseKeyNT)
	exported, err := exportedSessionKey(responseKeyNT, unhex(t, "68cd0ab851e51c96aabc927bebef6a1c"), flags, unhex(t, "c5dad2544fc9799094ce1ce90bc9d03e"))
	require.NoError(t, err)
	require.Equal(t, bytes.Repeat([]byte{0x55}, 16), exported)

	c := sealContextFor(exported, flags)
	plain, err := c.open(unhex(t, "01000000 7fb38ec5 c55d4976 00000000"), unhex(t, "54e50165bf1936dc996020c1811b0f06fb5f"))
	require.NoError(t, err)
	require.Equal(t, utf16le("Plaintext"), plain)

	// The next message must carry sequence number 1: a replay of the
	// first is refused.
	c = sealContextFor(exported, flags)
	_, err = c.open(unhex(t, "01000000 7fb38ec5 c55d4976 00000000"), unhex(t, "54e50165bf1936dc996020c1811b0f06fb5f"))
	require.NoError(t, err)
	_, err = c.open(unhex(t, "01000000 7fb38ec5 c55d4976 00000000"), unhex(t, "54e50165bf1936dc996020c1811b0f06fb5f"))
	require.ErrorContains(t, err, "does not verify")
}

// ntlmConn is a client of the plain HTTP listener on one connection,
// speaking NTLM and its session security through bodgit/ntlmssp, a client
// independent of Stead's.
type ntlmConn struct {
	t      *testing.T
	url    string
	http   *http.Client
	client *ntlmssp.Client
}

// login runs the NTLM handshake with empty POSTs and returns the status
// of its last answer.
func login(t *testing.T, srv *Server, password string) (*ntlmConn, int) {
	tr := &http.Transport{MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	client, err := ntlmssp.NewClient(ntlmssp.SetUserInfo(User, password), ntlmssp.SetVersion(ntlmssp.DefaultVersion()))
	require.NoError(t, err)
	c := &ntlmConn{t: t, url: fmt.Sprintf("http://127.0.0.1:%d/wsman", srv.HTTPPort), http: &http.Client{Transport: tr}, client: client}
	negotiate, err := client.Authenticate(nil, nil)
	require.NoError(t, err)
	resp := c.post(nil, "", "Negotiate "+base64.StdEncoding.EncodeToString(negotiate))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	token, ok := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "Negotiate ")
	require.True(t, ok)
	challenge, err := base64.StdEncoding.DecodeString(token)
	require.NoError(t, err)
	authenticate, err := client.Authenticate(challenge, nil)
	require.NoError(t, err)
	resp = c.post(nil, "", "Negotiate "+base64.StdEncoding.EncodeToString(authenticate))
	return c, resp.StatusCode
}

func (c *ntlmConn) post(body []byte, contentType, auth string) *http.Response {
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	require.NoError(c.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp
}

// sealed posts msg sealed; tamper flips a bit of its signature.
func (c *ntlmConn) sealed(msg []byte, tamper bool) *http.Response {
	sealed, signature, err := c.client.SecuritySession().Wrap(msg)
	require.NoError(c.t, err)
	if tamper {
		signature[5] ^= 1
	}
	return c.post(frame(signature, sealed, "application/soap+xml;charset=UTF-8"), sealedType, "")
}

// createShell is a WS-Management Create request for a shell.
const createShell = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action><a:MessageID>uuid:1</a:MessageID></s:Header><s:Body/></s:Envelope>`

// TestPlainListenerSeals: after an NTLM login the listener unseals and
// verifies requests and seals its answers; it refuses a wrong password, a
// request whose signature was altered, and unencrypted SOAP until it is
// told to allow it.
func TestPlainListenerSeals(t *testing.T) {
	srv := Start(t, User, Password)

	_, status := login(t, srv, "wrong")
	require.Equal(t, http.StatusUnauthorized, status)

	c, status := login(t, srv, Password)
	require.Equal(t, http.StatusOK, status)
	for range 3 { // sequence numbers advance on both sides
		resp := c.sealed([]byte(createShell), false)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, sealedType, resp.Header.Get("Content-Type"))
		data, _ := io.ReadAll(resp.Body)
		require.NotContains(t, string(data), "ShellId", "the answer travels sealed")
		contentType, signature, sealed, err := unframe(data)
		require.NoError(t, err)
		require.Equal(t, "application/soap+xml;charset=UTF-8", contentType)
		plain, err := c.client.SecuritySession().Unwrap(sealed, signature)
		require.NoError(t, err)
		require.Contains(t, string(plain), `<w:Selector Name="ShellId">SHELL-`)
	}
	require.Equal(t, 3, srv.SealedRequests())

	// Unencrypted SOAP on an authenticated connection: refused, as
	// AllowUnencrypted=false does.
	resp := c.post([]byte(createShell), "application/soap+xml;charset=UTF-8", "")
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	data, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(data), "refuses unencrypted traffic")
	require.Equal(t, 1, srv.RefusedRequests())

	// A signature altered on the way.
	resp = c.sealed([]byte(createShell), true)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, 2, srv.RefusedRequests())
	require.Equal(t, 3, srv.SealedRequests())

	// Allowed, unencrypted SOAP is served (here with Basic).
	srv.AllowUnencrypted(true)
	req, err := http.NewRequest(http.MethodPost, c.url, strings.NewReader(createShell))
	require.NoError(t, err)
	req.SetBasicAuth(User, Password)
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	data, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(data), "ShellId")
}

func TestUnframeRefusesMalformedBodies(t *testing.T) {
	good := frame(bytes.Repeat([]byte{1}, 16), []byte("sealed"), "application/soap+xml;charset=UTF-8")
	_, _, sealed, err := unframe(good)
	require.NoError(t, err)
	require.Equal(t, []byte("sealed"), sealed)
	for name, body := range map[string][]byte{
		"empty":           nil,
		"short signature": frame([]byte{1, 2}, []byte("sealed"), "t"),
		"length mismatch": bytes.Replace(good, []byte("Length=6"), []byte("Length=7"), 1),
		"no closing":      bytes.TrimSuffix(good, []byte("--\r\n")),
		"other protocol":  bytes.Replace(good, []byte("HTTP-SPNEGO"), []byte("HTTP-CredSSP"), 1),
	} {
		_, _, _, err := unframe(body)
		require.Error(t, err, name)
	}
}
