package testsshd_test

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/stead-io/stead/internal/testsshd"
)

// login dials the server at addr as its user with its key and returns the
// error of the handshake, or the output of cmd.
func login(t *testing.T, s *testsshd.Server, addr, cmd string) (string, error) {
	t.Helper()
	pem, err := os.ReadFile(s.KeyFile)
	require.NoError(t, err)
	signer, err := ssh.ParsePrivateKey(pem)
	require.NoError(t, err)
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.HostKey))
	require.NoError(t, err)
	c, err := ssh.Dial("tcp", net.JoinHostPort(addr, strconv.Itoa(s.Port)), &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		Timeout:         5 * time.Second,
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	sess, err := c.NewSession()
	require.NoError(t, err)
	defer sess.Close()
	out, err := sess.CombinedOutput(cmd)
	require.NoError(t, err)
	return string(out), nil
}

func TestStartLogsInAsTestUserWithShell(t *testing.T) {
	s := testsshd.Start(t)
	for _, addr := range []string{"127.0.0.1", "127.0.0.2", "127.1.2.3"} {
		t.Run(addr, func(t *testing.T) {
			out, err := login(t, s, addr, `id -un; echo "$0"; echo "$SSH_CONNECTION"`)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			require.Len(t, lines, 3)
			require.Equal(t, testsshd.UserName, lines[0])
			require.Equal(t, "sh", lines[1], "the login shell is /bin/sh")
			require.Equal(t, addr, strings.Fields(lines[2])[2], "the server sees the address it was reached on")
		})
	}
}

func TestStartRefusesNonLoopbackLogins(t *testing.T) {
	s := testsshd.Start(t)
	addr := nonLoopbackAddr(t)
	if addr == "" {
		t.Log("no non-loopback IPv4 address on this host; nothing to check")
		return
	}
	_, err := login(t, s, addr, "true")
	require.ErrorContains(t, err, "unable to authenticate")
}

func TestKnownHostsListsEachAddress(t *testing.T) {
	s := testsshd.Start(t)
	b, err := os.ReadFile(s.KnownHosts("127.0.0.2", "127.0.0.3"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 2)
	port := strconv.Itoa(s.Port)
	require.True(t, strings.HasPrefix(lines[0], "[127.0.0.2]:"+port+" "+s.HostKey), lines[0])
	require.True(t, strings.HasPrefix(lines[1], "[127.0.0.3]:"+port+" "+s.HostKey), lines[1])
}

func TestServersAreIndependent(t *testing.T) {
	a, b := testsshd.Start(t), testsshd.Start(t)
	require.NotEqual(t, a.Port, b.Port)
	require.NotEqual(t, a.HostKey, b.HostKey)
	keyA, err := os.ReadFile(a.KeyFile)
	require.NoError(t, err)
	keyB, err := os.ReadFile(b.KeyFile)
	require.NoError(t, err)
	require.False(t, bytes.Equal(keyA, keyB))
}

// nonLoopbackAddr returns an IPv4 address of this host outside 127.0.0.0/8,
// or "" if it has none.
func nonLoopbackAddr(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return ipn.IP.String()
		}
	}
	return ""
}
