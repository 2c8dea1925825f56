package winrm_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/testwinrm"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/internal/transport/winrm"
)

func TestRunOverWinRM(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	c, err := testwinrm.Dialer(t, testwinrm.Password).Dial(context.Background(), srv.Target(testwinrm.User, ""))
	require.NoError(t, err)
	defer c.Close()

	requireCommandsRun(t, c)
	var out, errOut bytes.Buffer
	code, err := c.Run(context.Background(), "nosuchprogram /x", nil, &out, &errOut)
	require.NoError(t, err)
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "'nosuchprogram' is not recognized")
	require.True(t, c.Alive())
}

func TestDialRefusesUntrustedCertificates(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	d := testwinrm.Dialer(t, testwinrm.Password)
	target := srv.Target(testwinrm.User, "")
	srv.RotateCertificate(t) // the node was reinstalled, or someone is in the middle
	_, err := d.Dial(context.Background(), target)
	var te *transport.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.HostKeyMismatch, te.Kind)
	require.Equal(t, srv.Fingerprint(), te.HostKey, "the error shows the certificate presented, to pin after checking")
	require.False(t, te.Retryable())

	// No pin and no CA file: the system's roots do not know a self-signed certificate.
	target.HostKey = ""
	_, err = d.Dial(context.Background(), target)
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.HostKeyUnknown, te.Kind, "%v", err)

	// A CA file that holds the certificate makes it trusted.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, srv.CertificatePEM(), 0o644))
	withCA, err := winrm.NewDialer(winrm.Config{CAFile: ca, Credentials: map[string]winrm.Credential{
		"default": {Auth: winrm.AuthBasic, PasswordFile: testwinrm.PasswordFile(t, testwinrm.Password)},
	}})
	require.NoError(t, err)
	c, err := withCA.Dial(context.Background(), target)
	require.NoError(t, err)
	require.NoError(t, c.Close())
}

func TestDialClassifiesFailures(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	tests := []struct {
		name   string
		dialer *winrm.Dialer
		target func(transport.Target) transport.Target
		kind   transport.ErrorKind
		says   string
	}{
		{name: "wrong password", dialer: testwinrm.Dialer(t, "wrong"), target: func(t transport.Target) transport.Target { return t }, kind: transport.AuthFailed, says: "authentication failed"},
		{name: "unknown credential", dialer: testwinrm.Dialer(t, testwinrm.Password), target: func(t transport.Target) transport.Target { t.Credential = "other"; return t }, kind: transport.NoCredential, says: `no winrm credential named "other"`},
		{name: "nothing listens", dialer: testwinrm.Dialer(t, testwinrm.Password), target: func(t transport.Target) transport.Target { t.Port = 1; return t }, kind: transport.Unreachable, says: "unreachable"},
		{name: "bad pin", dialer: testwinrm.Dialer(t, testwinrm.Password), target: func(t transport.Target) transport.Target { t.HostKey = "sha1:00"; return t }, kind: transport.InvalidTarget, says: "want sha256:"},
		{name: "basic over http", dialer: testwinrm.Dialer(t, testwinrm.Password), target: func(t transport.Target) transport.Target { t.InsecureHTTP = true; return t }, kind: transport.InvalidTarget, says: "in clear"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := tc.dialer.Dial(ctx, tc.target(srv.Target(testwinrm.User, "")))
			var te *transport.Error
			require.ErrorAs(t, err, &te)
			require.Equal(t, tc.kind, te.Kind, "%v", err)
			require.Contains(t, err.Error(), tc.says)
		})
	}
}

func TestConfigRefusesBadFiles(t *testing.T) {
	open := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(open, []byte("secret\n"), 0o644))
	_, err := winrm.NewDialer(winrm.Config{Credentials: map[string]winrm.Credential{"a": {Auth: winrm.AuthNTLM, PasswordFile: open}}, CAFile: "/nonexistent"})
	require.Error(t, err)
	require.Contains(t, err.Error(), "readable by group or others")
	require.Contains(t, err.Error(), "winrm ca file")
	require.NotContains(t, err.Error(), "secret")

	creds, err := winrm.ParseCredentialFlags([]string{"a=basic:/x", "b=/y", "c=ntlm:/z"})
	require.NoError(t, err)
	require.Equal(t, map[string]winrm.Credential{"a": {Auth: "basic", PasswordFile: "/x"}, "b": {Auth: "ntlm", PasswordFile: "/y"}, "c": {Auth: "ntlm", PasswordFile: "/z"}}, creds)
	_, err = winrm.ParseCredentialFlags([]string{"a=basic:"})
	require.Error(t, err)
}

func TestParseFingerprint(t *testing.T) {
	want := "sha256:" + strings.Repeat("ab", 32)
	for _, in := range []string{want, "SHA256:" + strings.Repeat("AB", 32), "sha256:" + strings.TrimSuffix(strings.Repeat("AB:", 32), ":")} {
		got, err := winrm.ParseFingerprint(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	for _, in := range []string{"", "ab", "sha256:abc", "sha1:" + strings.Repeat("ab", 20)} {
		_, err := winrm.ParseFingerprint(in)
		require.Error(t, err, in)
	}
}

// TestNTLM: the default scheme authenticates without sending the password,
// and a wrong one is refused as an authentication failure.
func TestNTLM(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	dial := func(password string) (transport.Communicator, error) {
		d, err := winrm.NewDialer(winrm.Config{Credentials: map[string]winrm.Credential{
			"default": {Auth: winrm.AuthNTLM, PasswordFile: testwinrm.PasswordFile(t, password)},
		}})
		require.NoError(t, err)
		return d.Dial(context.Background(), srv.Target(testwinrm.User, ""))
	}
	c, err := dial(testwinrm.Password)
	require.NoError(t, err)
	defer c.Close()
	var out bytes.Buffer
	code, err := c.Run(context.Background(), "echo over ntlm", nil, &out, nil)
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Equal(t, "over ntlm\r\n", out.String())
	require.Positive(t, srv.NTLMLogins(), "the client spoke NTLM, not Basic")

	_, err = dial("wrong")
	var te *transport.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.AuthFailed, te.Kind, "%v", err)
}

// certDialer is a WinRM dialer whose "default" credential is the client
// certificate in file.
func certDialer(t *testing.T, file string) *winrm.Dialer {
	creds, err := winrm.ParseCredentialFlags([]string{"default=cert:" + file})
	require.NoError(t, err)
	d, err := winrm.NewDialer(winrm.Config{Credentials: creds})
	require.NoError(t, err)
	return d
}

// TestClientCertificateAuthentication: a node that maps client
// certificates to its user lets in the one its CA issued, and refuses
// another CA's, or a request claiming the scheme without a certificate, as
// an authentication failure.
func TestClientCertificateAuthentication(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	good := srv.IssueClientCertificate(t, testwinrm.User)
	c, err := certDialer(t, good).Dial(context.Background(), srv.Target(testwinrm.User, ""))
	require.NoError(t, err)
	var out bytes.Buffer
	code, err := c.Run(context.Background(), "echo by certificate", nil, &out, nil)
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Equal(t, "by certificate\r\n", out.String())
	require.NoError(t, c.Close())

	other := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	wrong := other.IssueClientCertificate(t, testwinrm.User)
	_, err = certDialer(t, wrong).Dial(context.Background(), srv.Target(testwinrm.User, ""))
	var te *transport.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.AuthFailed, te.Kind, err.Error())
	require.False(t, te.Retryable())

	// The scheme named, no certificate presented.
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(srv.CertificatePEM()))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("https://127.0.0.1:%d/wsman", srv.Port), strings.NewReader("<x/>"))
	require.NoError(t, err)
	req.Header.Set("Authorization", "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual")
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// Certificates authenticate in the TLS handshake: never over plain HTTP.
	target := srv.Target(testwinrm.User, "")
	target.InsecureHTTP = true
	_, err = certDialer(t, good).Dial(context.Background(), target)
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.InvalidTarget, te.Kind)
	require.ErrorContains(t, err, "needs https")

	// A file without a key is refused when the worker starts, naming it.
	certOnly := filepath.Join(t.TempDir(), "cert-only.pem")
	require.NoError(t, os.WriteFile(certOnly, srv.CertificatePEM(), 0o600))
	_, err = winrm.NewDialer(winrm.Config{Credentials: map[string]winrm.Credential{"c": {Auth: winrm.AuthCertificate, PasswordFile: certOnly}}})
	require.ErrorContains(t, err, "cert-only.pem: want a PEM certificate and its private key")
}

// requireCommandsRun runs a command with output and one whose stdin spans
// many Send envelopes (sent while Receive polls) on c, and checks both
// came through whole.
func requireCommandsRun(t *testing.T, c transport.Communicator) {
	t.Helper()
	var out, errOut bytes.Buffer
	code, err := c.Run(context.Background(), "echo hello", nil, &out, &errOut)
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Equal(t, "hello\r\n", out.String())

	big := strings.Repeat("0123456789abcdef", 20000)
	out.Reset()
	code, err = c.Run(context.Background(), "more", strings.NewReader(big), &out, &errOut)
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Equal(t, big, out.String())
	require.True(t, c.Alive())
}
