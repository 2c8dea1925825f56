package testhost_test

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/stead-io/stead/internal/testhost"
)

// login runs cmd on h over SSH as the worker would: h's key pinned.
func login(t *testing.T, h *testhost.Host, cmd string) string {
	t.Helper()
	pem, err := os.ReadFile(h.KeyFile)
	require.NoError(t, err)
	signer, err := ssh.ParsePrivateKey(pem)
	require.NoError(t, err)
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(h.HostKey))
	require.NoError(t, err)
	c, err := ssh.Dial("tcp", net.JoinHostPort(h.Addr, "22"), &ssh.ClientConfig{
		User: h.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(hostKey),
	})
	require.NoError(t, err)
	defer c.Close()
	s, err := c.NewSession()
	require.NoError(t, err)
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	require.NoError(t, err, "%s: %s", cmd, out)
	return string(out)
}

// Each host is its own machine: its own hostname, processes and root, and
// apt installs from the test's repository into that root alone; the newer
// version from the security archive wins.
func TestHostsAreTheirOwnMachines(t *testing.T) {
	testhost.Require(t)
	repo := testhost.NewRepo(t)
	repo.Add(t, "main", "stable", "Stead-Test",
		testhost.Package{Name: "stead-hello", Version: "1.0", Files: map[string]string{"/usr/bin/stead-hello": "#!/bin/sh\necho hello 1.0\n"}})
	repo.Add(t, "security", "stable-security", "Debian-Security",
		testhost.Package{Name: "stead-hello", Version: "1.1", Files: map[string]string{"/usr/bin/stead-hello": "#!/bin/sh\necho hello 1.1\n"}})
	repo.Serve(t)
	h1 := testhost.Start(t, "th1", "10.202.1.1", "10.202.1.2", testhost.Options{Repo: repo})
	h2 := testhost.Start(t, "th2", "10.202.2.1", "10.202.2.2", testhost.Options{Repo: repo, KeyFile: h1.KeyFile})

	f := strings.Fields(login(t, h1, "hostname; id -un; ps -e -o pid= | wc -l"))
	require.Equal(t, []string{"th1", "root"}, f[:2])
	procs, err := strconv.Atoi(f[2])
	require.NoError(t, err)
	require.Less(t, procs, 10, "the host sees its own processes alone")
	require.Equal(t, "th2", strings.TrimSpace(login(t, h2, "hostname")), "one key reaches both hosts")

	out := login(t, h1, "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q stead-hello && stead-hello")
	require.Contains(t, out, "hello 1.1")
	require.Equal(t, "1.1", h1.Exec(t, "dpkg-query", "-W", "-f=${Version}", "stead-hello"))
	require.NoFileExists(t, h2.Root+"/usr/bin/stead-hello", "the other host is untouched")
	require.Error(t, exec.Command("dpkg-query", "-W", "stead-hello").Run(), "the machine is untouched")
}

// A Samba AD domain controller runs on a test host, and a member joined
// to it over their link is a computer of the domain.
func TestDomainController(t *testing.T) {
	testhost.Require(t)
	dc := testhost.StartDomainController(t, "tdc", "10.202.3.1", "10.202.3.2", "stead.test", "Stead-Adm1n-pw")
	m := testhost.Start(t, "tdm", "10.202.4.1", "10.202.4.2", testhost.Options{})
	dc.Admit(t, m, "tdl", "10.202.5.1", "10.202.5.2")
	require.Contains(t, m.Exec(t, "adcli", "info", "stead.test"), "domain-controller = tdc.stead.test")
	m.Exec(t, "sh", "-c", `printf %s "$1" | adcli join --domain=stead.test --login-user=Administrator --stdin-password`, "join", dc.AdminPassword)
	m.Exec(t, "adcli", "testjoin", "--domain=stead.test")
	require.Contains(t, dc.Exec(t, "samba-tool", "computer", "list"), "TDM$")
}
