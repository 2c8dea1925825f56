package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/workflows"
)

// pids reads the process ids the test's steps append to file.
func pids(t *testing.T, file string) []int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		var p int
		_, err := fmt.Sscan(f, &p)
		require.NoError(t, err)
		out = append(out, p)
	}
	return out
}

func executions(t *testing.T, name string) []workflows.ExecutionRecord {
	t.Helper()
	var recs []workflows.ExecutionRecord
	require.NoError(t, json.Unmarshal([]byte(ok(t, "association", "executions", name, "--output", "json")), &recs))
	return recs
}

// Stop cancels the running execution (its command is killed on the node)
// and keeps everything from running: no schedule slot, no new node, no
// manual start. Resume runs the next slot once, without catching up;
// cancel ends one execution and the association goes on.
func TestStopResumeCancel(t *testing.T) {
	h := setup(t)
	h.register("pause-1", 90)
	dir, err := os.MkdirTemp("", "stead-pause-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	pidFile := filepath.Join(dir, "pids")
	out := ok(t, "association", "create", "--name", "pausing", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:role,Values="+h.tag, "--schedule", "cron(* * * * ? *)",
		"--parameters", fmt.Sprintf(`{"commands":["echo $$ >> %s","sleep 300"]}`, pidFile))
	t.Cleanup(func() { stead(t, "association", "delete", "pausing") })
	first := execID(t, out)
	require.Eventually(t, func() bool { return len(pids(t, pidFile)) == 1 }, 30*time.Second, 100*time.Millisecond)
	running := pids(t, pidFile)[0]
	require.NoError(t, processAlive(running))

	require.Contains(t, ok(t, "association", "stop", "pausing"), "association pausing stopped")
	require.Eventually(t, func() bool { return processAlive(running) != nil }, 20*time.Second, 100*time.Millisecond, "the running command was not killed")
	require.Equal(t, contract.StatusCancelled, targetsJSON(t, "pausing", first)[0].Status)
	require.Contains(t, ok(t, "association", "describe", "pausing"), contract.StatusPaused)
	require.Eventually(t, func() bool { return strings.Contains(ok(t, "association", "list"), contract.StatusPaused) }, 10*time.Second, 100*time.Millisecond)
	fails(t, "association pausing is stopped: association resume pausing first", "association", "start", "pausing")

	// A node that starts to match gets no run, and neither does the
	// minute's slot.
	h.register("pause-2", 91)
	stopped := len(executions(t, "pausing"))
	time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute + 5*time.Second)))
	require.Len(t, executions(t, "pausing"), stopped, "nothing ran while stopped")
	require.Len(t, pids(t, pidFile), 1)

	out = ok(t, "association", "resume", "pausing")
	require.Contains(t, out, "association pausing resumed; next run: ")
	resumed := time.Now()
	// No catch-up: the slot missed while stopped does not fire at resume.
	time.Sleep(2 * time.Second)
	if time.Until(resumed.Truncate(time.Minute).Add(time.Minute)) > 3*time.Second {
		require.Len(t, executions(t, "pausing"), stopped, "a missed slot fired at resume")
	}
	var next workflows.ExecutionRecord
	require.Eventually(t, func() bool {
		recs := executions(t, "pausing")
		if len(recs) == stopped+1 && recs[0].Reason == workflows.ReasonSched {
			next = recs[0]
			return true
		}
		return false
	}, 70*time.Second, 200*time.Millisecond, "the next slot did not fire after resume")
	require.Eventually(t, func() bool { return len(pids(t, pidFile)) == 3 }, 30*time.Second, 100*time.Millisecond, "both nodes run the slot")
	for _, p := range pids(t, pidFile)[1:] {
		require.NoError(t, processAlive(p))
	}

	// Cancel ends that execution alone.
	require.Contains(t, ok(t, "association", "cancel", "pausing", "--execution", next.ExecutionID), "cancelled")
	for _, p := range pids(t, pidFile)[1:] {
		require.Eventually(t, func() bool { return processAlive(p) != nil }, 20*time.Second, 100*time.Millisecond, "command %d not killed", p)
	}
	for _, o := range targetsJSON(t, "pausing", next.ExecutionID) {
		require.Equal(t, contract.StatusCancelled, o.Status, o.NodeID)
	}
	require.NotContains(t, ok(t, "association", "describe", "pausing"), contract.StatusPaused)
	fails(t, "has already ended", "association", "cancel", "pausing", "--execution", next.ExecutionID)
	fails(t, "has no execution", "association", "cancel", "pausing", "--execution", "6f1c2b9e-6a43-4a8e-9d7c-0d5a1f1e2b3c")
}
