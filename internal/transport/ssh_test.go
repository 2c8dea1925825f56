package transport_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/transport"
)

// run runs cmd on c and returns its exit code, stdout and stderr.
func run(t *testing.T, c transport.Communicator, cmd, stdin string) (int, string, string) {
	t.Helper()
	var in *strings.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	var code int
	var err error
	if in == nil {
		code, err = c.Run(context.Background(), cmd, nil, &out, &errOut)
	} else {
		code, err = c.Run(context.Background(), cmd, in, &out, &errOut)
	}
	require.NoError(t, err)
	return code, out.String(), errOut.String()
}

// kindOf returns the transport error kind of err, failing if there is none.
func kindOf(t *testing.T, err error) transport.ErrorKind {
	t.Helper()
	var te *transport.Error
	require.ErrorAs(t, err, &te)
	return te.Kind
}

// newPublicKey returns a fresh public key of the given kind in
// authorized_keys form.
func newPublicKey(t *testing.T, kind string) string {
	t.Helper()
	var pub any
	switch kind {
	case "ed25519":
		p, _, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		pub = p
	case "ecdsa":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		pub = &k.PublicKey
	}
	k, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// writeNewPrivateKey writes an ed25519 key nobody authorised.
func writeNewPrivateKey(t *testing.T) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "stranger")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	return path
}

func TestSSHRun(t *testing.T) {
	srv := testsshd.Start(t)
	c, err := srv.Dialer(t).Dial(context.Background(), srv.Target("127.0.0.1"))
	require.NoError(t, err)
	defer c.Close()

	tests := []struct {
		name, cmd, stdin string
		code             int
		stdout, stderr   string
	}{
		{name: "stdout", cmd: "echo hello", stdout: "hello\n"},
		{name: "stderr and exit code", cmd: "echo oops >&2; exit 3", code: 3, stderr: "oops\n"},
		{name: "stdin", cmd: "tr a-z A-Z", stdin: "shout\n", stdout: "SHOUT\n"},
		{name: "unread stdin", cmd: "echo ignored", stdin: strings.Repeat("x", 1<<20), stdout: "ignored\n"},
		{name: "killed by signal", cmd: "kill -9 $$", code: 137},
		{name: "runs as the target user", cmd: "id -un", stdout: testsshd.UserName + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, c, tc.cmd, tc.stdin)
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.stdout, stdout)
			require.Equal(t, tc.stderr, stderr)
		})
	}
}

func TestSSHRunCancel(t *testing.T) {
	srv := testsshd.Start(t)
	c, err := srv.Dialer(t).Dial(context.Background(), srv.Target("127.0.0.1"))
	require.NoError(t, err)
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Run(ctx, "sleep 30", nil, nil, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 10*time.Second)

	code, out, _ := run(t, c, "echo still usable", "")
	require.Equal(t, 0, code)
	require.Equal(t, "still usable\n", out)
}

func TestSSHHostKeys(t *testing.T) {
	srv := testsshd.Start(t)
	tests := []struct {
		name       string
		hostKey    string
		knownHosts func() string
		want       transport.ErrorKind // "" means the dial succeeds
	}{
		{name: "pinned key", hostKey: srv.HostKey},
		{name: "pinned key wins over known_hosts", hostKey: srv.HostKey, knownHosts: func() string { return srv.KnownHosts("127.0.0.9") }},
		{name: "wrong pinned key", hostKey: newPublicKey(t, "ed25519"), want: transport.HostKeyMismatch},
		{name: "pinned key of a type the host lacks", hostKey: newPublicKey(t, "ecdsa"), want: transport.HostKeyMismatch},
		{name: "known_hosts lists the host", knownHosts: func() string { return srv.KnownHosts("127.0.0.1") }},
		{name: "known_hosts lacks the host", knownHosts: func() string { return srv.KnownHosts("127.0.0.2") }, want: transport.HostKeyUnknown},
		{name: "known_hosts has another key", knownHosts: func() string {
			path := filepath.Join(t.TempDir(), "known_hosts")
			line := "[127.0.0.1]:" + strconv.Itoa(srv.Port) + " " + newPublicKey(t, "ed25519") + "\n"
			require.NoError(t, os.WriteFile(path, []byte(line), 0o644))
			return path
		}, want: transport.HostKeyMismatch},
		{name: "nothing to trust", want: transport.HostKeyUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := transport.SSHConfig{Credentials: map[string]string{"default": srv.KeyFile}}
			if tc.knownHosts != nil {
				cfg.KnownHostsFile = tc.knownHosts()
			}
			d, err := transport.NewSSHDialer(cfg)
			require.NoError(t, err)
			target := srv.Target("127.0.0.1")
			target.HostKey = tc.hostKey
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
			var te *transport.Error
			require.ErrorAs(t, err, &te)
			require.False(t, te.Retryable())
			require.Equal(t, target.NodeID, te.NodeID)
			if tc.want == transport.HostKeyMismatch && !strings.HasPrefix(tc.hostKey, "ecdsa") || tc.want == transport.HostKeyUnknown {
				require.Equal(t, srv.HostKey, te.HostKey, "the error shows the key the host presented")
			}
		})
	}
}

func TestSSHCredentials(t *testing.T) {
	srv := testsshd.Start(t)
	stranger := writeNewPrivateKey(t)
	tests := []struct {
		name       string
		creds      map[string]string
		credential string
		want       transport.ErrorKind
	}{
		{name: "default credential", creds: map[string]string{"default": srv.KeyFile}},
		{name: "named credential", creds: map[string]string{"ops": srv.KeyFile}, credential: "ops"},
		{name: "no credential at all", creds: nil, want: transport.NoCredential},
		{name: "unknown credential name", creds: map[string]string{"default": srv.KeyFile}, credential: "nope", want: transport.NoCredential},
		{name: "key the node does not accept", creds: map[string]string{"default": stranger}, want: transport.AuthFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SSH_AUTH_SOCK", "")
			d, err := transport.NewSSHDialer(transport.SSHConfig{Credentials: tc.creds})
			require.NoError(t, err)
			target := srv.Target("127.0.0.1")
			target.Credential = tc.credential
			c, err := d.Dial(context.Background(), target)
			if tc.want == "" {
				require.NoError(t, err)
				require.NoError(t, c.Close())
				return
			}
			require.Equal(t, tc.want, kindOf(t, err), "%v", err)
		})
	}
}

func TestSSHUnreachable(t *testing.T) {
	srv := testsshd.Start(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedPort := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	target := srv.Target("127.0.0.1")
	target.Port = closedPort
	_, err = srv.Dialer(t).Dial(context.Background(), target)
	require.Equal(t, transport.Unreachable, kindOf(t, err))
	var te *transport.Error
	require.ErrorAs(t, err, &te)
	require.True(t, te.Retryable())
	require.Contains(t, err.Error(), target.NodeID)
}

func TestSSHInvalidTarget(t *testing.T) {
	srv := testsshd.Start(t)
	d := srv.Dialer(t)
	tests := map[string]func(*transport.Target){
		"no user":         func(t *transport.Target) { t.User = "" },
		"no address":      func(t *transport.Target) { t.Address = "" },
		"bad pinned key":  func(t *transport.Target) { t.HostKey = "ssh-ed25519 not-base64" },
		"unknown kind":    func(t *transport.Target) { t.Kind = "telnet" },
		"empty kind":      func(t *transport.Target) { t.Kind = "" },
		"local as nobody": func(t *transport.Target) { t.Kind = transport.KindLocal; t.User = "nobody-at-all" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			target := srv.Target("127.0.0.1")
			mutate(&target)
			_, err := transport.NewDialer(d).Dial(context.Background(), target)
			require.Equal(t, transport.InvalidTarget, kindOf(t, err), "%v", err)
		})
	}
}

func TestAddressesAreSeparateHosts(t *testing.T) {
	srv := testsshd.Start(t)
	d, err := transport.NewSSHDialer(transport.SSHConfig{
		Credentials:    map[string]string{"default": srv.KeyFile},
		KnownHostsFile: srv.KnownHosts("127.0.0.2", "127.0.0.3"),
	})
	require.NoError(t, err)
	for _, addr := range []string{"127.0.0.2", "127.0.0.3"} {
		t.Run(addr, func(t *testing.T) {
			target := srv.Target(addr)
			target.HostKey = ""
			c, err := d.Dial(context.Background(), target)
			require.NoError(t, err)
			defer c.Close()
			_, out, _ := run(t, c, `echo "$SSH_CONNECTION"`, "")
			require.Equal(t, addr, strings.Fields(out)[2])
		})
	}
	target := srv.Target("127.0.0.4")
	target.HostKey = ""
	_, err = d.Dial(context.Background(), target)
	require.Equal(t, transport.HostKeyUnknown, kindOf(t, err))
}

func TestNewSSHDialerValidatesFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage-key")
	require.NoError(t, os.WriteFile(garbage, []byte("SECRET-LOOKING-BYTES not a key\n"), 0o600))
	encrypted := filepath.Join(dir, "encrypted-key")
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pw"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(encrypted, pem.EncodeToMemory(block), 0o600))
	missing := filepath.Join(dir, "missing-key")

	tests := []struct {
		name    string
		cfg     transport.SSHConfig
		mention []string
	}{
		{name: "unparsable key", cfg: transport.SSHConfig{Credentials: map[string]string{"default": garbage}}, mention: []string{garbage}},
		{name: "passphrase key", cfg: transport.SSHConfig{Credentials: map[string]string{"ops": encrypted}}, mention: []string{encrypted, "passphrase"}},
		{name: "missing key", cfg: transport.SSHConfig{Credentials: map[string]string{"ops": missing}}, mention: []string{missing}},
		{name: "every problem at once", cfg: transport.SSHConfig{Credentials: map[string]string{"a": missing, "b": garbage}}, mention: []string{missing, garbage}},
		{name: "missing known_hosts", cfg: transport.SSHConfig{KnownHostsFile: filepath.Join(dir, "kh")}, mention: []string{"known_hosts"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := transport.NewSSHDialer(tc.cfg)
			require.Error(t, err)
			for _, m := range tc.mention {
				require.Contains(t, err.Error(), m)
			}
			require.NotContains(t, err.Error(), "SECRET-LOOKING-BYTES")
		})
	}
	t.Run("agent without SSH_AUTH_SOCK", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", "")
		_, err := transport.NewSSHDialer(transport.SSHConfig{Credentials: map[string]string{"default": "agent"}})
		require.ErrorContains(t, err, "SSH_AUTH_SOCK")
	})
}

func TestParseCredentialFlags(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   map[string]string
		err    bool
	}{
		{name: "none", values: nil, want: map[string]string{}},
		{name: "several", values: []string{"default=/k/a", "ops.eu=/k/b=c", "x=agent"}, want: map[string]string{"default": "/k/a", "ops.eu": "/k/b=c", "x": "agent"}},
		{name: "no equals", values: []string{"default"}, err: true},
		{name: "empty path", values: []string{"default="}, err: true},
		{name: "empty name", values: []string{"=/k"}, err: true},
		{name: "odd name", values: []string{"a b=/k"}, err: true},
		{name: "duplicate", values: []string{"a=/k", "a=/j"}, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := transport.ParseCredentialFlags(tc.values)
			if tc.err {
				require.Error(t, err)
				require.NotContains(t, err.Error(), "\n")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestErrorMessage(t *testing.T) {
	err := &transport.Error{Kind: transport.Unreachable, NodeID: "web-1", Addr: "10.0.0.5:22", Err: errors.New("connect: connection refused")}
	require.Equal(t, "reach node web-1 at 10.0.0.5:22: unreachable: connect: connection refused", err.Error())
}
