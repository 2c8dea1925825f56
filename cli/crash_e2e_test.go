package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/cli"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/events"
	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/workflows"
)

// workerProcessEnv makes the test binary run `stead worker` instead of the
// tests, so a test can kill a real worker process with SIGKILL.
const workerProcessEnv = "STEAD_E2E_WORKER_ARGS"

func runWorkerProcess() int {
	args := append([]string{"stead", "worker"}, strings.Split(os.Getenv(workerProcessEnv), "\x1f")...)
	return cli.Run(context.Background(), args, os.Stdout, os.Stderr)
}

// startWorkerProcess runs a worker in a child process that reaches sshd,
// with more flags.
func startWorkerProcess(t *testing.T, sshd *testsshd.Server, flags ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerProcessEnv+"="+strings.Join(append([]string{
		"--address", frontend, "--credential", "default=" + sshd.KeyFile, "--log-level", "warn",
		"--output-dir", t.TempDir(), "--events-dir", t.TempDir(),
	}, flags...), "\x1f"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	return cmd
}

// crashFleet registers n nodes whose step appends one line to a file named
// for the node, then sleeps, and returns the directory of those files.
func crashFleet(t *testing.T, sshd *testsshd.Server, prefix string, first, n int) string {
	dir, err := os.MkdirTemp("", "stead-crash-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "- id: %s-%d\n  address: 127.0.2.%d\n  port: %d\n  user: %s\n  hostKey: %s\n  tags: {fleet: %s}\n",
			prefix, i, first+i, sshd.Port, sshd.User, sshd.HostKey, prefix)
	}
	file := filepath.Join(dir, "nodes.yaml")
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o644))
	ok(t, "node", "import", file)
	return dir
}

// appendOnce is the step of the crash tests: one line in a file named for
// the node's address, then a few seconds of work.
func appendOnce(dir string) string {
	return fmt.Sprintf(`{"commands":["echo ran >> %s/$(echo \"$SSH_CONNECTION\" | cut -d' ' -f3)","sleep 4"]}`, dir)
}

// linesWritten counts the lines all nodes have written so far.
func linesWritten(dir string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "127.*"))
	total := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		total += strings.Count(string(b), "\n")
	}
	return total
}

// awaitExecution waits for an execution to end and returns its status.
func awaitExecution(t *testing.T, name, id string, within time.Duration) string {
	var status string
	require.Eventually(t, func() bool {
		var recs []workflows.ExecutionRecord
		out, _, code := stead(t, "association", "executions", name, "--output", "json")
		if code != 0 || json.Unmarshal([]byte(out), &recs) != nil {
			return false
		}
		for _, r := range recs {
			if r.ExecutionID == id && r.Status != contract.StatusInProgress {
				status = r.Status
				return true
			}
		}
		return false
	}, within, 500*time.Millisecond)
	return status
}

// requireExactlyOnce checks every node's file holds exactly one line and
// every target ended Success; it returns how many steps were collected
// from a run an earlier attempt had started.
func requireExactlyOnce(t *testing.T, name, id, dir string, n int) int {
	outs := targetsJSON(t, name, id)
	require.Len(t, outs, n)
	resumed := 0
	for _, o := range outs {
		require.Equal(t, contract.StatusSuccess, o.Status, "%s: %s", o.NodeID, o.DetailedStatus)
		require.NotEmpty(t, o.Output)
		if o.Output[len(o.Output)-1].Resumed {
			resumed++
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "127.*"))
	require.NoError(t, err)
	require.Len(t, files, n)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Equal(t, "ran\n", string(b), "%s", f)
	}
	return resumed
}

func TestWorkerKilledMidRunRunsEachStepOnce(t *testing.T) {
	sshd := testsshd.Start(t)
	const n = 55
	// Both workers send their events to one signed webhook.
	secretFile := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("crash-secret"), 0o600))
	rcv := &webhookReceiver{secret: []byte("crash-secret")}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	eventFlags := []string{"--event-webhook", hook.URL, "--event-webhook-secret-file", secretFile}
	// Node registration needs a worker: start the one to kill first.
	first := startWorkerProcess(t, sshd, eventFlags...)
	dir := crashFleet(t, sshd, "crash", 10, n)
	out := ok(t, "association", "create", "--name", "crash-safe", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:fleet,Values=crash", "--max-concurrency", "100%", "--parameters", appendOnce(dir))
	id := execID(t, out)
	require.Eventually(t, func() bool { return linesWritten(dir) >= n/2 }, 60*time.Second, 50*time.Millisecond)

	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_, _ = first.Process.Wait()
	startWorkerProcess(t, sshd, eventFlags...)

	require.Equal(t, contract.StatusSuccess, awaitExecution(t, "crash-safe", id, 3*time.Minute))
	resumed := requireExactlyOnce(t, "crash-safe", id, dir, n)
	require.Positive(t, resumed, "no step was collected by the second worker")
	t.Logf("%d of %d steps were collected by the new worker from runs the killed one started", resumed, n)

	// Every change of the run reached the webhook, each under one id
	// however often the retried batch reported it.
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	require.Empty(t, rcv.bad, "every signature is valid")
	ids := map[string]string{} // change -> id
	for _, e := range rcv.got {
		if e.Detail.ExecutionID != id {
			continue
		}
		c := change(e)
		if prev, ok := ids[c]; ok {
			require.Equal(t, prev, e.ID, "%s reported under two ids", c)
		}
		ids[c] = e.ID
	}
	require.Contains(t, ids, events.DetailExecution+"  Success")
	for i := range n {
		node := fmt.Sprintf("crash-%d", i)
		for _, c := range []string{events.DetailNodeAssociation + " " + node + " InProgress", events.DetailNodeAssociation + " " + node + " Success",
			events.DetailCompliance + " " + node + " COMPLIANT"} {
			require.Contains(t, ids, c)
		}
	}
	require.Len(t, ids, 3+3*n, "InProgress, Success and the association's status, and three events per node")
	t.Logf("%d events delivered for %d changes", len(rcv.got), len(ids))
	ok(t, "association", "delete", "crash-safe")
}

func TestServerRestartMidRun(t *testing.T) {
	restartMidRun(t, "server-restart", 100, func() { restartServer(t) })
}

// restartMidRun runs an association over ten nodes, calls restart once
// half of them have started their step, and requires every step to have
// run exactly once and succeeded.
func restartMidRun(t *testing.T, name string, first int, restart func()) {
	h := setup(t)
	const n = 10
	dir := crashFleet(t, h.sshd, name, first, n)
	out := ok(t, "association", "create", "--name", name, "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:fleet,Values="+name, "--max-concurrency", "100%", "--parameters", appendOnce(dir))
	id := execID(t, out)
	require.Eventually(t, func() bool { return linesWritten(dir) >= n/2 }, 60*time.Second, 50*time.Millisecond)

	restart()

	require.Equal(t, contract.StatusSuccess, awaitExecution(t, name, id, 3*time.Minute))
	requireExactlyOnce(t, name, id, dir, n)
	ok(t, "association", "delete", name)
}
