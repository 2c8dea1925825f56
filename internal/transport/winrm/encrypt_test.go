package winrm_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/testwinrm"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/internal/transport/winrm"
)

// ntlmDialer is a WinRM dialer whose "default" credential is NTLM with
// password.
func ntlmDialer(t *testing.T, password string) *winrm.Dialer {
	d, err := winrm.NewDialer(winrm.Config{Credentials: map[string]winrm.Credential{
		"default": {Auth: winrm.AuthNTLM, PasswordFile: testwinrm.PasswordFile(t, password)},
	}})
	require.NoError(t, err)
	return d
}

// TestSealedHTTP: over plain HTTP an NTLM credential seals every message,
// which the fake's listener (refusing unencrypted SOAP, as Windows'
// default one does) unseals and verifies; commands, their stdin and
// output go through whole.
func TestSealedHTTP(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	c, err := ntlmDialer(t, testwinrm.Password).Dial(context.Background(), srv.HTTPTarget(testwinrm.User, ""))
	require.NoError(t, err)
	defer c.Close()

	// Send and Receive run concurrently, each on its own sealed session.
	requireCommandsRun(t, c)
	require.NoError(t, c.Close())

	require.Greater(t, srv.SealedRequests(), 10, "every message was sealed")
	require.Zero(t, srv.RefusedRequests())
	require.Positive(t, srv.NTLMLogins())
}

// TestSealedHTTPReconnects: a session whose connection the node closed
// while idle is replaced by a new one, logged in again; the command runs
// once.
func TestSealedHTTPReconnects(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	c, err := ntlmDialer(t, testwinrm.Password).Dial(context.Background(), srv.HTTPTarget(testwinrm.User, ""))
	require.NoError(t, err)
	defer c.Close()
	logins := srv.NTLMLogins()
	srv.DropIdleConnections()
	// The client's side sees the connection closed when its end of it
	// reads the FIN, at once on loopback; the wait only makes sure.
	time.Sleep(200 * time.Millisecond)
	var out bytes.Buffer
	code, err := c.Run(context.Background(), "echo again", nil, &out, nil)
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Equal(t, "again\r\n", out.String())
	require.Greater(t, srv.NTLMLogins(), logins, "a new session logged in")
	require.Zero(t, srv.RefusedRequests())
}

// TestSealedHTTPRefusals: a wrong password is AuthFailed, a closed port
// Unreachable; Basic and certificates stay refused over plain HTTP; an
// unencrypted opt-out reaches only a listener that allows it; a node that
// grants no sealing is sent nothing; an answer whose signature does not
// verify is refused.
func TestSealedHTTPRefusals(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	ctx := context.Background()
	var te *transport.Error

	_, err := ntlmDialer(t, "wrong").Dial(ctx, srv.HTTPTarget(testwinrm.User, ""))
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.AuthFailed, te.Kind, "%v", err)
	require.NotContains(t, err.Error(), "wrong")

	closed := srv.HTTPTarget(testwinrm.User, "")
	closed.Port = 1
	_, err = ntlmDialer(t, testwinrm.Password).Dial(ctx, closed)
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.Unreachable, te.Kind, "%v", err)

	_, err = testwinrm.Dialer(t, testwinrm.Password).Dial(ctx, srv.HTTPTarget(testwinrm.User, ""))
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.InvalidTarget, te.Kind)
	require.ErrorContains(t, err, "a basic credential needs https")
	_, err = certDialer(t, srv.IssueClientCertificate(t, testwinrm.User)).Dial(ctx, srv.HTTPTarget(testwinrm.User, ""))
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.InvalidTarget, te.Kind)

	// The explicit opt-out sends SOAP in clear: Windows' default listener
	// refuses it, one that allows unencrypted traffic takes it.
	insecure := srv.HTTPTarget(testwinrm.User, "")
	insecure.HTTP, insecure.InsecureHTTP = false, true
	_, err = ntlmDialer(t, testwinrm.Password).Dial(ctx, insecure)
	require.ErrorAs(t, err, &te)
	require.ErrorContains(t, err, "refuses unencrypted traffic")
	require.Equal(t, 1, srv.RefusedRequests())
	srv.AllowUnencrypted(true)
	c, err := ntlmDialer(t, testwinrm.Password).Dial(ctx, insecure)
	require.NoError(t, err)
	var out bytes.Buffer
	_, err = c.Run(ctx, "echo in clear", nil, &out, nil)
	require.NoError(t, err)
	require.Equal(t, "in clear\r\n", out.String())
	require.NoError(t, c.Close())
	require.Zero(t, srv.SealedRequests(), "the opt-out sealed nothing")

	// A node that grants no sealing is sent nothing.
	withheld := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	withheld.WithholdSealing()
	_, err = ntlmDialer(t, testwinrm.Password).Dial(ctx, withheld.HTTPTarget(testwinrm.User, ""))
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.InvalidTarget, te.Kind, "%v", err)
	require.ErrorContains(t, err, "does not grant NTLM message encryption")
	require.Zero(t, withheld.SealedRequests()+withheld.RefusedRequests()+withheld.NTLMLogins(), "no message, not even the login's end, was sent")

	// An answer altered on the way is never taken.
	srv.TamperResponses()
	_, err = ntlmDialer(t, testwinrm.Password).Dial(ctx, srv.HTTPTarget(testwinrm.User, ""))
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.Unreachable, te.Kind)
	require.ErrorContains(t, err, "signature does not verify")
}

// TestHTTPSIsNotSealed: over HTTPS, TLS protects the traffic and NTLM
// seals nothing, as with Windows.
func TestHTTPSIsNotSealed(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	c, err := ntlmDialer(t, testwinrm.Password).Dial(context.Background(), srv.Target(testwinrm.User, ""))
	require.NoError(t, err)
	var out bytes.Buffer
	_, err = c.Run(context.Background(), "echo over tls", nil, &out, nil)
	require.NoError(t, err)
	require.Equal(t, "over tls\r\n", out.String())
	require.NoError(t, c.Close())
	require.Positive(t, srv.NTLMLogins())
	require.Zero(t, srv.SealedRequests())
}
