package testsshd

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/stead-io/stead/internal/transport"
)

// UserName is the test user sshd logs in. Its login shell is /bin/sh, so
// commands start fast and behave like on a minimal node.
const UserName = "steadtest"

// sshdPath is where Debian's openssh-server installs sshd.
const sshdPath = "/usr/sbin/sshd"

// Server is a running sshd that tests and the benchmark can log in to.
type Server struct {
	// Port is the TCP port sshd listens on, on every address.
	Port int
	// User is the login user (UserName).
	User string
	// KeyFile is an ed25519 private key file authorised for User.
	KeyFile string
	// HostKey is the server's public host key in authorized_keys form.
	HostKey string
	// KnownHosts writes a known_hosts file trusting HostKey for the given
	// 127.x.y.z addresses (on Port) and returns its path. Only servers from
	// Start have it: it fails the test on error.
	KnownHosts func(addrs ...string) string

	dir     string
	hostPub ssh.PublicKey
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
	opts    Options
}

// Options place an sshd in a network namespace, so tests can build hosts
// that only some workers reach, or that go away and come back.
type Options struct {
	// Netns is the network namespace (as for `ip netns exec`) sshd runs in;
	// "" is the caller's.
	Netns string
	// Address is where logins are allowed and readiness is checked: an
	// address of the namespace reachable from the caller's. "" means
	// loopback only.
	Address string
	// HostCA, if set, signs the server's host key into a host certificate
	// that sshd presents to clients offering certificate algorithms, as a
	// fleet whose host keys an SSH certificate authority signs does.
	HostCA ssh.Signer
	// HostPrincipals are the host names the certificate is valid for;
	// empty means any host.
	HostPrincipals []string
	// Env holds NAME=value settings sshd gives every session it starts
	// (sshd_config's SetEnv; PATH among them), so a test can put programs
	// of its own in the login's way, as a node's own PATH would.
	Env []string
	// SFTPServer is the program serving the sftp subsystem; "" is sshd's
	// internal-sftp.
	SFTPServer string
}

// Target returns an ssh Target for the host at addr (a 127.x.y.z address)
// with the server's host key pinned and the worker's default credential.
func (s *Server) Target(addr string) transport.Target {
	return transport.Target{
		NodeID:  "node-" + addr,
		Address: addr,
		Port:    s.Port,
		User:    s.User,
		Kind:    transport.KindSSH,
		HostKey: s.HostKey,
	}
}

// Dialer returns an SSHDialer whose "default" credential is KeyFile.
func (s *Server) Dialer(t testing.TB) *transport.SSHDialer {
	t.Helper()
	d, err := transport.NewSSHDialer(transport.SSHConfig{
		Credentials: map[string]string{transport.DefaultCredential: s.KeyFile},
	})
	if err != nil {
		t.Fatalf("testsshd: build ssh dialer: %v", err)
	}
	return d
}

// Start runs a fresh sshd with its own configuration, host key and
// authorized keys, waits until it accepts connections and stops it when
// the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "stead-sshd-")
	if err != nil {
		t.Fatalf("testsshd: create directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := launch(dir, opts)
	if err != nil {
		t.Fatalf("testsshd: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("testsshd: sshd log:\n%s", s.Log())
		}
	})
	var files atomic.Int64
	s.KnownHosts = func(addrs ...string) string {
		t.Helper()
		path := filepath.Join(dir, fmt.Sprintf("known_hosts.%d", files.Add(1)))
		if err := s.WriteKnownHosts(path, addrs...); err != nil {
			t.Fatalf("testsshd: %v", err)
		}
		return path
	}
	return s
}

// Launch runs a fresh sshd whose configuration, keys and log live in dir
// (created if missing), and waits until it accepts connections. sshd reads
// authorized_keys with the login user's privileges, so Launch makes dir
// traversable; its parents must be already. It is Start for programs that are not tests, such
// as the benchmark; the caller must call Stop and owns dir.
func Launch(dir string) (*Server, error) {
	return LaunchWith(dir, Options{})
}

// LaunchWith is Launch with sshd placed as opts say.
func LaunchWith(dir string, opts Options) (*Server, error) {
	return launch(dir, opts)
}

func launch(dir string, opts Options) (*Server, error) {
	if _, err := os.Stat(sshdPath); err != nil {
		return nil, fmt.Errorf("%s not found: install the openssh-server package (apt-get install openssh-server): %w", sshdPath, err)
	}
	if err := ensureUser(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("create privilege separation directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("make %s traversable: %w", dir, err)
	}

	s := &Server{User: UserName, dir: dir, opts: opts}
	hostPub, err := WriteKey(filepath.Join(dir, "host_ed25519"))
	if err != nil {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	if opts.HostCA != nil {
		if err := writeHostCert(filepath.Join(dir, "host_ed25519-cert.pub"), hostPub, opts); err != nil {
			return nil, fmt.Errorf("write host certificate: %w", err)
		}
	}
	s.hostPub = hostPub
	s.HostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostPub)))
	s.KeyFile = filepath.Join(dir, "client_ed25519")
	userPub, err := WriteKey(s.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("write client key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userPub), 0o644); err != nil {
		return nil, fmt.Errorf("write authorized_keys: %w", err)
	}

	// Another process may take the free port before sshd binds it: retry
	// on a new one.
	const attempts = 5
	for i := range attempts {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("pick a port: %w", err)
		}
		s.Port = port
		err = s.run()
		if err == nil {
			return s, nil
		}
		if i == attempts-1 {
			return nil, fmt.Errorf("start sshd: %w", err)
		}
	}
	return s, nil
}

// Stop terminates sshd, killing it if it does not exit within five
// seconds. Sessions already open may outlive it. Stop is idempotent.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Log returns the end of sshd's log, for failure messages.
func (s *Server) Log() string {
	return tail(s.logPath)
}

// WriteKnownHosts writes to path a known_hosts file trusting the server's
// host key for each of addrs (127.x.y.z addresses) on Port, so clients
// that check host keys, OpenSSH's included, accept every posing host.
func (s *Server) WriteKnownHosts(path string, addrs ...string) error {
	var b strings.Builder
	for _, a := range addrs {
		hp := knownhosts.Normalize(net.JoinHostPort(a, strconv.Itoa(s.Port)))
		b.WriteString(knownhosts.Line([]string{hp}, s.hostPub) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write known_hosts: %w", err)
	}
	return nil
}

// run writes the configuration for s.Port, starts sshd and waits for it
// to answer. It returns an error if sshd exits first, e.g. because another
// process took the port.
func (s *Server) run() error {
	cfg := filepath.Join(s.dir, "sshd_config")
	if err := os.WriteFile(cfg, []byte(s.config()), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	logPath := filepath.Join(s.dir, fmt.Sprintf("sshd.%d.log", s.Port))
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", cfg)
	if s.opts.Netns != "" {
		cmd = exec.Command("ip", "netns", "exec", s.opts.Netns, sshdPath, "-D", "-e", "-f", cfg)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", sshdPath, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("sshd exited: %s", tail(logPath))
		default:
		}
		if Greets(s.readyAddress(), s.Port) {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("sshd did not answer on port %d: %s", s.Port, tail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd, s.exited, s.logPath = cmd, exited, logPath
	return nil
}

// config is the sshd_config for s: public key logins for the test user
// only, and only on loopback addresses.
func (s *Server) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Port %d\n", s.Port)
	b.WriteString("ListenAddress 0.0.0.0\n")
	fmt.Fprintf(&b, "HostKey %s\n", filepath.Join(s.dir, "host_ed25519"))
	if s.opts.HostCA != nil {
		fmt.Fprintf(&b, "HostCertificate %s\n", filepath.Join(s.dir, "host_ed25519-cert.pub"))
	}
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", filepath.Join(s.dir, "authorized_keys"))
	fmt.Fprintf(&b, "AllowUsers %s\n", s.User)
	b.WriteString(`PidFile none
UsePAM no
StrictModes no
PermitRootLogin no
PubkeyAuthentication no
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
X11Forwarding no
PrintMotd no
MaxStartups 500:30:1000
MaxSessions 100
LoginGraceTime 30
`)
	if s.opts.SFTPServer != "" {
		fmt.Fprintf(&b, "Subsystem sftp %s\n", s.opts.SFTPServer)
	} else {
		b.WriteString("Subsystem sftp internal-sftp\n")
	}
	if len(s.opts.Env) > 0 {
		fmt.Fprintf(&b, "SetEnv %s\n", strings.Join(s.opts.Env, " "))
	}
	if hasPenalties() {
		// Failed-auth tests must not get the loopback source blocked.
		b.WriteString("PerSourcePenalties no\n")
	}
	if s.opts.Address != "" {
		fmt.Fprintf(&b, "Match LocalAddress %s\n\tPubkeyAuthentication yes\n\tAuthenticationMethods publickey\n", s.opts.Address)
	}
	b.WriteString("Match LocalAddress 127.0.0.0/8\n\tPubkeyAuthentication yes\n\tAuthenticationMethods publickey\n")
	return b.String()
}

// hasPenalties reports whether this sshd (OpenSSH 9.8 and later) penalises
// sources of failed logins.
func hasPenalties() bool {
	out, _ := exec.Command(sshdPath, "-V").CombinedOutput()
	m := regexp.MustCompile(`OpenSSH_(\d+)\.(\d+)`).FindSubmatch(out)
	if m == nil {
		return false
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return major > 9 || major == 9 && minor >= 8
}

// Restart starts sshd again after Stop, on the same port with the same
// keys: a host coming back.
func (s *Server) Restart() error {
	if s.cmd != nil {
		return errors.New("restart sshd: it is running")
	}
	return s.run()
}

// readyAddress is where s is checked for readiness.
func (s *Server) readyAddress() string {
	if s.opts.Address != "" {
		return s.opts.Address
	}
	return "127.0.0.1"
}

// Greets reports whether an SSH server greets on addr:port: a host is up.
func Greets(addr string, port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

// freePort asks the kernel for a port nobody listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WriteKey writes a new ed25519 private key in OpenSSH form to path and
// returns its public key. Other test hosts (internal/testhost) use it for
// their host and login keys.
func WriteKey(path string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(pub)
}

// writeHostCert signs hostPub with opts.HostCA into a host certificate
// valid from an hour ago (clock skew) for a day, and writes it to path.
func writeHostCert(path string, hostPub ssh.PublicKey, opts Options) error {
	now := time.Now()
	cert := &ssh.Certificate{
		Key:             hostPub,
		Serial:          1,
		CertType:        ssh.HostCert,
		KeyId:           "stead-testsshd",
		ValidPrincipals: opts.HostPrincipals,
		ValidAfter:      uint64(now.Add(-time.Hour).Unix()),
		ValidBefore:     uint64(now.Add(24 * time.Hour).Unix()),
	}
	if err := cert.SignCert(rand.Reader, opts.HostCA); err != nil {
		return err
	}
	return os.WriteFile(path, ssh.MarshalAuthorizedKey(cert), 0o644)
}

// tail returns the end of the log at path, for failure messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	const keep = 4000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return string(bytes.TrimSpace(b))
}

// ensureUser creates the test user if it is missing and makes sure its
// account is not locked (without PAM, sshd refuses locked accounts). Test
// binaries of several packages may race here, so the work is done under a
// file lock.
func ensureUser() error {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "stead-testsshd.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open user lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock user setup: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	if _, err := user.Lookup(UserName); err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return fmt.Errorf("look up user %s: %w", UserName, err)
		}
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", UserName).CombinedOutput(); err != nil {
			return fmt.Errorf("create user %s: %w: %s", UserName, err, bytes.TrimSpace(out))
		}
	}
	locked, err := accountLocked(UserName)
	if err != nil {
		return err
	}
	if locked {
		if out, err := exec.Command("usermod", "-p", "*", UserName).CombinedOutput(); err != nil {
			return fmt.Errorf("unlock user %s: %w: %s", UserName, err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// accountLocked reports whether name's shadow password starts with "!",
// which sshd without PAM treats as a locked account.
func accountLocked(name string) (bool, error) {
	b, err := os.ReadFile("/etc/shadow")
	if err != nil {
		return false, fmt.Errorf("read /etc/shadow: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		fields := strings.SplitN(line, ":", 3)
		if len(fields) >= 2 && fields[0] == name {
			return strings.HasPrefix(fields[1], "!"), nil
		}
	}
	return false, nil
}
