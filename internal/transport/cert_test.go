package transport_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/transport"
)

func newCA(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return s
}

// TestSSHCertificateAuthority checks known_hosts @cert-authority lines: a host whose key
// a trusted CA signed is accepted with no pinned key and no line of its own; a host
// signed by another CA, or for another name, or whose key is @revoked, is refused.
func TestSSHCertificateAuthority(t *testing.T) {
	ca := newCA(t)
	srv := testsshd.StartWith(t, testsshd.Options{HostCA: ca, HostPrincipals: []string{"127.0.0.5"}})
	port := strconv.Itoa(srv.Port)
	caLine := func(signer ssh.Signer, pattern string) string {
		return "@cert-authority " + pattern + " " + string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
	}
	tests := []struct {
		name  string
		addr  string
		lines string
		want  transport.ErrorKind
		say   string
	}{
		{name: "trusted CA", addr: "127.0.0.5", lines: caLine(ca, "[127.0.0.5]:"+port)},
		{name: "trusted CA by wildcard", addr: "127.0.0.5", lines: caLine(ca, "[127.0.0.*]:"+port)},
		{name: "another CA", addr: "127.0.0.5", lines: caLine(newCA(t), "[127.0.0.*]:"+port), want: transport.HostKeyUnknown, say: "certificate signed by"},
		{name: "CA trusted for other hosts", addr: "127.0.0.5", lines: caLine(ca, "[127.0.0.6]:"+port), want: transport.HostKeyUnknown, say: "certificate signed by"},
		{name: "certificate for another name", addr: "127.0.0.6", lines: caLine(ca, "[127.0.0.*]:"+port), want: transport.HostKeyUnknown, say: "not valid for this host"},
		{name: "revoked host key", addr: "127.0.0.5", lines: caLine(ca, "[127.0.0.*]:"+port) + "@revoked [127.0.0.*]:" + port + " " + srv.HostKey + "\n", want: transport.HostKeyMismatch, say: "revoked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			require.NoError(t, os.WriteFile(kh, []byte(tc.lines), 0o644))
			d, err := transport.NewSSHDialer(transport.SSHConfig{Credentials: map[string]string{"default": srv.KeyFile}, KnownHostsFile: kh})
			require.NoError(t, err)
			target := srv.Target(tc.addr)
			target.HostKey = ""
			c, err := d.Dial(context.Background(), target)
			if tc.want == "" {
				require.NoError(t, err)
				code, out, _ := run(t, c, "echo ok", "")
				require.Equal(t, 0, code)
				require.Equal(t, "ok\n", out)
				require.NoError(t, c.Close())
				return
			}
			require.Equal(t, tc.want, kindOf(t, err), "%v", err)
			require.Contains(t, err.Error(), tc.say)
			require.NotContains(t, err.Error(), "\n")
		})
	}

	// A pinned key still wins: the pinned plain key is asked for, not the certificate.
	d, err := transport.NewSSHDialer(transport.SSHConfig{Credentials: map[string]string{"default": srv.KeyFile}})
	require.NoError(t, err)
	c, err := d.Dial(context.Background(), srv.Target("127.0.0.5"))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.True(t, strings.HasPrefix(srv.HostKey, "ssh-ed25519 "))
}
