package cli_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/codec"
	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/worker"
)

// testNetns is a network namespace joined to the host by a veth pair:
// HostAddr on the host's end, Addr on the namespace's, in a /24 of their
// own. The namespace has no other route, so it reaches nothing but the
// host's end of its link.
type testNetns struct {
	Name, HostAddr, Addr string
}

// ipCmd runs ip(8) and fails the test on error.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
}

// newNetns creates a namespace and its link, removed when the test ends
// (every process in it killed first), whatever the test's outcome.
func newNetns(t *testing.T, name, hostAddr, addr string) testNetns {
	t.Helper()
	_, err := exec.LookPath("ip")
	require.NoError(t, err, "iproute2 is needed for namespace tests")
	hostIf, nsIf := "st-"+name+"-h", "st-"+name+"-n"
	removeNetns(name, hostIf)
	t.Cleanup(func() { removeNetns(name, hostIf) })
	ipCmd(t, "netns", "add", "stead-"+name)
	ipCmd(t, "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	ipCmd(t, "link", "set", nsIf, "netns", "stead-"+name)
	ipCmd(t, "addr", "add", hostAddr+"/24", "dev", hostIf)
	ipCmd(t, "link", "set", hostIf, "up")
	ipCmd(t, "netns", "exec", "stead-"+name, "ip", "addr", "add", addr+"/24", "dev", nsIf)
	ipCmd(t, "netns", "exec", "stead-"+name, "ip", "link", "set", nsIf, "up")
	ipCmd(t, "netns", "exec", "stead-"+name, "ip", "link", "set", "lo", "up")
	return testNetns{Name: "stead-" + name, HostAddr: hostAddr, Addr: addr}
}

// killAll kills every process in the namespace, as a power cut would.
func (n testNetns) killAll() {
	out, _ := exec.Command("ip", "netns", "pids", n.Name).Output()
	for _, pid := range strings.Fields(string(out)) {
		_ = exec.Command("kill", "-9", pid).Run()
	}
}

// removeNetns deletes a namespace left by this or an earlier run.
func removeNetns(name, hostIf string) {
	testNetns{Name: "stead-" + name}.killAll()
	_ = exec.Command("ip", "link", "del", hostIf).Run()
	_ = exec.Command("ip", "netns", "del", "stead-"+name).Run()
}

// sshdIn starts a real sshd inside ns, accepting logins on ns.Addr.
func sshdIn(t *testing.T, ns testNetns) *testsshd.Server {
	t.Helper()
	dir := openTempDir(t)
	s, err := testsshd.LaunchWith(dir, testsshd.Options{Netns: ns.Name, Address: ns.Addr})
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	return s
}

// openTempDir is a temporary directory the test user of the nodes can
// reach: t.TempDir's parent is private to root.
func openTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "stead-netns-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startLocalWorker runs a worker in this process that logs in with keyFile;
// configure, if given, adjusts its activities (e.g. their HTTP client).
func startLocalWorker(t *testing.T, keyFile string, configure ...func(*activities.Activities)) {
	c := dialTest(t)
	dialer, err := transport.NewSSHDialer(transport.SSHConfig{Credentials: map[string]string{"default": keyFile}})
	require.NoError(t, err)
	pool := transport.NewPool(transport.NewDialer(dialer), time.Minute)
	acts := &activities.Activities{
		Client: c, Namespace: "default", DataConverter: codec.NewDataConverter(codecKeys),
		Nodes: pool, HeartbeatEvery: time.Second,
	}
	for _, f := range configure {
		f(acts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Options{Client: c, Activities: acts})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		pool.Close()
		c.Close()
	})
}

// A step exiting 194 reboots the node; the next step runs once the node
// is back with a new boot id. The test host stands in for a reboot: its
// reboot command asks the test to kill everything in its namespace, change
// its boot id and start its sshd again two seconds later.
func TestRebootContinuesWithTheNextStep(t *testing.T) {
	ns := newNetns(t, "rb", "10.201.3.1", "10.201.3.2")
	sshd := sshdIn(t, ns)
	startLocalWorker(t, sshd.KeyFile)
	ctl := openTempDir(t)
	require.NoError(t, os.Chmod(ctl, 0o777))
	bootFile := filepath.Join(ctl, "boot_id")
	require.NoError(t, os.WriteFile(bootFile, []byte("boot-1\n"), 0o644))
	request := filepath.Join(ctl, "reboot-requested")

	// The host's "power": on a reboot request, everything in the namespace
	// dies, and the host comes back with a new boot id.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var reboots []time.Time
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(request); err == nil {
				_ = os.Remove(request)
				sshd.Stop()
				ns.killAll()
				reboots = append(reboots, time.Now())
				_ = os.WriteFile(bootFile, fmt.Appendf(nil, "boot-%d\n", len(reboots)+1), 0o644)
				time.Sleep(2 * time.Second)
				if err := sshd.Restart(); err != nil {
					t.Errorf("restart sshd: %v", err)
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })

	register := func(id, rebootCmd, bootCmd string) {
		t.Cleanup(func() { stead(t, "node", "deregister", id) })
		ok(t, "node", "register", "--id", id, "--address", ns.Addr, "--port", fmt.Sprint(sshd.Port), "--user", sshd.User,
			"--host-key", sshd.HostKey, "--reboot-command", rebootCmd, "--boot-id-command", bootCmd, "--reboot-timeout", "8s")
	}
	register("rb-1", "touch "+request, "cat "+bootFile)
	// A host that never comes back: its boot id never changes.
	register("rb-gone", "true", "echo same-boot")

	doc := filepath.Join(ctl, "rebooter.json")
	require.NoError(t, os.WriteFile(doc, []byte(`{"schemaVersion":"2.2","mainSteps":[
		{"action":"aws:runShellScript","name":"first","inputs":{"runCommand":["cat `+bootFile+`","exit 194"]}},
		{"action":"aws:runShellScript","name":"second","inputs":{"runCommand":["cat `+bootFile+`"]}}]}`), 0o644))
	ok(t, "document", "create", "--name", "rebooter", "--file", doc)

	out := ok(t, "association", "create", "--name", "reboots", "--document", "rebooter", "--targets", "Key=InstanceIds,Values=rb-1", "--wait")
	outs := targetsJSON(t, "reboots", execID(t, out))
	require.Len(t, outs, 1)
	require.Equal(t, contract.StatusSuccess, outs[0].Status, outs[0].DetailedStatus)
	require.Len(t, reboots, 1, "one reboot")
	require.Len(t, outs[0].Output, 2)
	require.Equal(t, "boot-1\n", outs[0].Output[0].Stdout)
	require.Equal(t, 194, outs[0].Output[0].ExitCode)
	require.Contains(t, outs[0].Steps[0].DetailedStatus, "rebooted (exit code 194): boot id boot-1, then boot-2")
	require.Equal(t, "boot-2\n", outs[0].Output[1].Stdout, "the next step ran on the rebooted host")
	require.True(t, outs[0].Output[1].StartedAt.After(reboots[0]), "the next step started after the reboot")

	start := time.Now()
	out, _, code := stead(t, "association", "create", "--name", "reboot-gone", "--document", "rebooter", "--targets", "Key=InstanceIds,Values=rb-gone", "--wait")
	require.NotEqual(t, 0, code)
	require.Less(t, time.Since(start), time.Minute, "the wait is bounded by the node's reboot timeout")
	outs = targetsJSON(t, "reboot-gone", execID(t, out))
	require.Len(t, outs, 1)
	require.Equal(t, contract.StatusTimedOut, outs[0].Status, outs[0].DetailedStatus)
	require.Contains(t, outs[0].DetailedStatus, "not back within 8s")
	require.Equal(t, contract.StatusSkipped, outs[0].Steps[1].Status)
	ok(t, "association", "delete", "reboots")
	ok(t, "association", "delete", "reboot-gone")
}

// proxyTemporal forwards connections to ns.HostAddr:PORT to the test's
// Temporal server, which listens on the host's loopback only: the way a
// worker inside the namespace reaches it. It returns host:port.
func proxyTemporal(t *testing.T, ns testNetns) string {
	l, err := net.Listen("tcp", net.JoinHostPort(ns.HostAddr, "0"))
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.DialTimeout("tcp", frontend, 5*time.Second)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(out, in); out.Close() })
			wg.Go(func() { _, _ = io.Copy(in, out); in.Close() })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// startWorkerIn runs `stead worker --region region` as a child process
// inside ns, where it reaches only the namespace's own hosts and, through
// proxyTemporal, the Temporal server.
func startWorkerIn(t *testing.T, ns testNetns, region, keyFile string) {
	cmd := exec.Command("ip", "netns", "exec", ns.Name, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerProcessEnv+"="+strings.Join([]string{
		"--address", proxyTemporal(t, ns), "--region", region, "--credential", "default=" + keyFile,
		"--log-level", "warn", "--output-dir", t.TempDir(), "--events-dir", t.TempDir(),
	}, "\x1f"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
}

// Two regions, each a network namespace with its own host and its own
// worker process that reaches nothing else; one association spans both.
func TestRegionsRunOnTheirOwnWorkers(t *testing.T) {
	nsA := newNetns(t, "ra", "10.201.1.1", "10.201.1.2")
	nsB := newNetns(t, "rb2", "10.201.2.1", "10.201.2.2")
	sshdA, sshdB := sshdIn(t, nsA), sshdIn(t, nsB)
	// Both hosts accept the same worker key, so only the network decides
	// which worker reaches which host.
	key, err := os.ReadFile(filepath.Join(filepath.Dir(sshdA.KeyFile), "authorized_keys"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(sshdB.KeyFile), "authorized_keys"), key, 0o644))
	startWorkerIn(t, nsA, "region-a", sshdA.KeyFile)
	startWorkerIn(t, nsB, "region-b", sshdA.KeyFile)

	register := func(id string, ns testNetns, sshd *testsshd.Server, region string) {
		t.Cleanup(func() { stead(t, "node", "deregister", id) })
		ok(t, "node", "register", "--id", id, "--address", ns.Addr, "--port", fmt.Sprint(sshd.Port), "--user", sshd.User,
			"--host-key", sshd.HostKey, "--region", region, "--tag", "fleet=regions")
	}
	register("reg-a", nsA, sshdA, "region-a")
	register("reg-b", nsB, sshdB, "region-b")

	out := ok(t, "association", "create", "--name", "regions", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:fleet,Values=regions", "--parameters", `{"commands":["echo \"$SSH_CONNECTION\""]}`, "--wait")
	outs := targetsJSON(t, "regions", execID(t, out))
	require.Len(t, outs, 2)
	for _, o := range outs {
		require.Equal(t, contract.StatusSuccess, o.Status, "%s: %s", o.NodeID, o.DetailedStatus)
		// SSH_CONNECTION is "client-ip client-port server-ip server-port":
		// the client is the namespace's own address, so the step came from
		// the worker inside that namespace.
		f := strings.Fields(o.Output[0].Stdout)
		require.Len(t, f, 4, o.Output[0].Stdout)
		want := map[string]string{"reg-a": nsA.Addr, "reg-b": nsB.Addr}[o.NodeID]
		require.Equal(t, want, f[0], "%s ran from %s", o.NodeID, f[0])
		require.Equal(t, want, f[2])
	}

	// Region A's worker cannot reach region B's host.
	t.Cleanup(func() { stead(t, "node", "deregister", "reg-cross") })
	ok(t, "node", "register", "--id", "reg-cross", "--address", nsB.Addr, "--port", fmt.Sprint(sshdB.Port), "--user", sshdB.User,
		"--host-key", sshdB.HostKey, "--region", "region-a")
	out, _, code := stead(t, "association", "create", "--name", "regions-cross", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=reg-cross", "--parameters", `{"commands":["true"]}`, "--wait")
	require.NotEqual(t, 0, code)
	outs = targetsJSON(t, "regions-cross", execID(t, out))
	require.Len(t, outs, 1)
	require.Equal(t, contract.StatusUndeliverable, outs[0].Status, outs[0].DetailedStatus)
	require.Contains(t, outs[0].DetailedStatus, "Unreachable")
	require.Contains(t, outs[0].DetailedStatus, "network is unreachable")
	ok(t, "association", "delete", "regions")
	ok(t, "association", "delete", "regions-cross")
}
