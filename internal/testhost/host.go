package testhost

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/stead-io/stead/internal/testsshd"
)

// Netns is a network namespace joined to the machine by a veth pair:
// HostAddr on the machine's end, Addr on the namespace's, in a /24 of
// their own. The namespace routes everything through HostAddr, which
// forwards nothing: it reaches the machine's end of its link alone.
type Netns struct {
	Name, HostAddr, Addr string
	// HostIf and If are the machine's and the namespace's ends of the link.
	HostIf, If string
}

// NewNetns creates the namespace stead-NAME and its link, removed when the
// test ends (every process in it killed first), whatever the outcome.
// name must be short: interface names hold 15 bytes.
func NewNetns(t testing.TB, name, hostAddr, addr string) Netns {
	t.Helper()
	n := Netns{Name: "stead-" + name, HostAddr: hostAddr, Addr: addr, HostIf: "st-" + name + "-h", If: "st-" + name + "-n"}
	n.remove()
	t.Cleanup(n.remove)
	ip(t, "netns", "add", n.Name)
	ip(t, "link", "add", n.HostIf, "type", "veth", "peer", "name", n.If)
	ip(t, "link", "set", n.If, "netns", n.Name)
	ip(t, "addr", "add", hostAddr+"/24", "dev", n.HostIf)
	ip(t, "link", "set", n.HostIf, "up")
	n.IP(t, "addr", "add", addr+"/24", "dev", n.If)
	n.IP(t, "link", "set", n.If, "up")
	n.IP(t, "link", "set", "lo", "up")
	n.IP(t, "route", "add", "default", "via", hostAddr)
	return n
}

// IP runs ip(8) inside the namespace and fails the test on error.
func (n Netns) IP(t testing.TB, args ...string) {
	t.Helper()
	ip(t, append([]string{"netns", "exec", n.Name, "ip"}, args...)...)
}

// KillAll kills every process in the namespace, as a power cut would.
func (n Netns) KillAll() {
	out, _ := exec.Command("ip", "netns", "pids", n.Name).Output()
	for _, pid := range strings.Fields(string(out)) {
		_ = exec.Command("kill", "-9", pid).Run()
	}
}

// remove deletes the namespace and its link, left by this or an earlier run.
func (n Netns) remove() {
	n.KillAll()
	_ = exec.Command("ip", "link", "del", n.HostIf).Run()
	_ = exec.Command("ip", "netns", "del", n.Name).Run()
}

// ip runs ip(8) and fails the test on error.
func ip(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("testhost: ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Host is a running test host: its own namespace, root filesystem and sshd.
type Host struct {
	Netns
	// Root is the host's root filesystem as the machine sees it.
	Root string
	// Port is sshd's port on Addr; User the login (root).
	Port int
	User string
	// KeyFile is the private key the host authorises for User.
	KeyFile string
	// HostKey is sshd's public host key in authorized_keys form, to pin.
	HostKey string

	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// Options shape a host.
type Options struct {
	// KeyFile, if set, is the login key (an OpenSSH ed25519 private key) the
	// host authorises, so one worker credential reaches many hosts; else
	// the host gets a key of its own.
	KeyFile string
	// Repo, if set, is the host's only apt source (its sources.list).
	Repo *Repo
}

// Start builds a host named name (hostname and namespace stead-NAME) on a
// link hostAddr <-> addr, and stops and removes it when the test ends.
func Start(t testing.TB, name, hostAddr, addr string, opts Options) *Host {
	t.Helper()
	Require(t)
	tarball := Rootfs(t)
	ns := NewNetns(t, name, hostAddr, addr)
	dir, err := os.MkdirTemp("", "stead-host-"+name+"-")
	if err != nil {
		t.Fatalf("testhost: create directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := &Host{Netns: ns, Root: filepath.Join(dir, "root"), Port: 22, User: "root", KeyFile: opts.KeyFile, log: filepath.Join(dir, "sshd.log")}
	if err := h.prepare(tarball, dir, opts); err != nil {
		t.Fatalf("testhost: prepare %s: %v", name, err)
	}
	if err := h.run(); err != nil {
		t.Fatalf("testhost: start %s: %v", name, err)
	}
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("testhost: %s sshd log:\n%s", name, h.Log())
		}
	})
	return h
}

// prepare unpacks the root filesystem and writes the host's identity,
// keys, sshd configuration and apt sources into it.
func (h *Host) prepare(tarball, dir string, opts Options) error {
	if err := os.MkdirAll(h.Root, 0o755); err != nil {
		return fmt.Errorf("create root: %w", err)
	}
	if out, err := exec.Command("tar", "--numeric-owner", "-xpf", tarball, "-C", h.Root).CombinedOutput(); err != nil {
		return fmt.Errorf("unpack %s: %w: %s", tarball, err, tailOf(out))
	}
	hostKeyFile := filepath.Join(h.Root, "etc/ssh/ssh_host_ed25519_key")
	hostPub, err := testsshd.WriteKey(hostKeyFile)
	if err != nil {
		return fmt.Errorf("write host key: %w", err)
	}
	if err := os.WriteFile(hostKeyFile+".pub", ssh.MarshalAuthorizedKey(hostPub), 0o644); err != nil {
		return fmt.Errorf("write host public key: %w", err)
	}
	h.HostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostPub)))
	var userPub ssh.PublicKey
	if h.KeyFile == "" {
		h.KeyFile = filepath.Join(dir, "login_ed25519")
		if userPub, err = testsshd.WriteKey(h.KeyFile); err != nil {
			return fmt.Errorf("write login key: %w", err)
		}
	} else if userPub, err = publicKeyOf(h.KeyFile); err != nil {
		return err
	}
	name := strings.TrimPrefix(h.Name, "stead-")
	files := map[string]string{
		"etc/hostname":              name + "\n",
		"etc/hosts":                 "127.0.0.1 localhost\n" + h.Addr + " " + name + "\n",
		"root/.ssh/authorized_keys": string(ssh.MarshalAuthorizedKey(userPub)),
		"etc/ssh/stead_sshd_config": fmt.Sprintf(`Port %d
ListenAddress %s
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile none
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
X11Forwarding no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 50
Subsystem sftp internal-sftp
`, h.Port, h.Addr),
	}
	if opts.Repo != nil {
		files["etc/apt/sources.list"] = strings.Join(opts.Repo.Sources(h.HostAddr), "\n") + "\n"
	}
	for rel, content := range files {
		p := filepath.Join(h.Root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(rel), err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
	}
	return nil
}

// publicKeyOf reads the public half of an OpenSSH private key file.
func publicKeyOf(keyFile string) (ssh.PublicKey, error) {
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read login key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("parse login key %s: %w", keyFile, err)
	}
	return signer.PublicKey(), nil
}

// bootScript runs in the host's fresh mount, UTS and PID namespaces (as
// PID 1's parent shell): it mounts what a running system has inside the
// root and becomes sshd, chrooted. Paths arrive as arguments, never as
// code: $1 is the root, $2 the hostname.
const bootScript = `set -e
mount --rbind /dev "$1/dev"
mount --rbind /sys "$1/sys"
mount -t proc proc "$1/proc"
mount -t tmpfs tmpfs "$1/run"
mount -t tmpfs tmpfs "$1/tmp"
mkdir -p "$1/run/sshd"
hostname "$2"
exec chroot "$1" /usr/sbin/sshd -D -e -f /etc/ssh/stead_sshd_config`

// run boots the host: sshd in its namespaces, chrooted, until it answers.
func (h *Host) run() error {
	logFile, err := os.OpenFile(h.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command("ip", "netns", "exec", h.Name, "unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child",
		"sh", "-c", bootScript, "boot", h.Root, strings.TrimPrefix(h.Name, "stead-"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run sshd: %w", err)
	}
	h.cmd, h.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(h.exited)
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-h.exited:
			h.cmd = nil
			return fmt.Errorf("sshd exited: %s", h.Log())
		default:
		}
		if testsshd.Greets(h.Addr, h.Port) {
			return nil
		}
		if time.Now().After(deadline) {
			h.Stop()
			return fmt.Errorf("sshd did not answer on %s:%d within 20s: %s", h.Addr, h.Port, h.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills everything running on the host, as a power cut would. The
// root filesystem stays until the test ends. Stop is idempotent.
func (h *Host) Stop() {
	if h.cmd == nil {
		return
	}
	h.KillAll()
	_ = h.cmd.Process.Kill()
	<-h.exited
	h.cmd = nil
}

// Restart boots a stopped host again, with the same root and keys.
func (h *Host) Restart() error {
	if h.cmd != nil {
		return fmt.Errorf("restart %s: it is running", h.Name)
	}
	return h.run()
}

// Log returns the end of the host's sshd log, for failure messages.
func (h *Host) Log() string {
	out, _ := os.ReadFile(h.log)
	return tailOf(out)
}

// Exec runs argv on the host, in its namespaces and root (not over SSH:
// the test's own look at the host), and returns its combined output.
func (h *Host) Exec(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := h.TryExec(argv...)
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	return out
}

// TryExec is Exec for commands that may fail: their output, and an error
// naming the command when it does.
func (h *Host) TryExec(argv ...string) (string, error) {
	if h.cmd == nil {
		return "", fmt.Errorf("exec on %s: it is stopped", h.Name)
	}
	// The host's first process (sshd) is the child of unshare, which ip
	// netns exec became.
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", h.cmd.Process.Pid, h.cmd.Process.Pid))
	if err != nil || len(strings.Fields(string(children))) == 0 {
		return "", fmt.Errorf("find the processes of %s: %v", h.Name, err)
	}
	pid := strings.Fields(string(children))[0]
	out, err := exec.Command("nsenter", append([]string{"--target", pid, "--mount", "--uts", "--pid", "--net", "--root", "--wd", "--"}, argv...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return string(out), nil
}

// ReadFile returns a file of the host's root, or fails the test.
func (h *Host) ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.Root, path))
	if err != nil {
		t.Fatalf("testhost: read %s on %s: %v", path, h.Name, err)
	}
	return string(b)
}

// The commands a node registered for EmulateReboots reboots with and reads
// its boot id with (node register --reboot-command, --boot-id-command).
const (
	RebootCommand = "touch /var/lib/stead-test/reboot-requested"
	BootIDCommand = "cat /var/lib/stead-test/boot_id"
)

// EmulateReboots makes h rebootable until the test ends: RebootCommand
// asks the test to cut the host's power (everything on it dies, its /run
// and /tmp are gone) and boot it again two seconds later with a new boot
// id, which BootIDCommand prints. It returns how many reboots happened.
func (h *Host) EmulateReboots(t testing.TB) func() int {
	t.Helper()
	dir := filepath.Join(h.Root, "var/lib/stead-test")
	request, bootID := filepath.Join(dir, "reboot-requested"), filepath.Join(dir, "boot_id")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testhost: create %s: %v", dir, err)
	}
	if err := os.WriteFile(bootID, []byte("boot-1\n"), 0o644); err != nil {
		t.Fatalf("testhost: write boot id: %v", err)
	}
	var mu sync.Mutex
	reboots := 0
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if err := os.Remove(request); err != nil {
				continue
			}
			h.Stop()
			mu.Lock()
			reboots++
			n := reboots
			mu.Unlock()
			_ = os.WriteFile(bootID, fmt.Appendf(nil, "boot-%d\n", n+1), 0o644)
			time.Sleep(2 * time.Second)
			if err := h.Restart(); err != nil {
				t.Errorf("testhost: boot %s again: %v", h.Name, err)
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return reboots
	}
}
