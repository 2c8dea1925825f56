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

	"github.com/stead-io/stead/cli"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/workflows"
)

// A node registered (or retagged) into an association's targets gets the
// association at once, without waiting for the schedule: bootstrap.
func TestNewNodeIsBootstrapped(t *testing.T) {
	h := setup(t)
	h.register("boot-1", 40)
	out := ok(t, "association", "create", "--name", "bootstrap", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:role,Values="+h.tag, "--schedule", "rate(1 day)",
		"--parameters", `{"commands":["echo bootstrapped"]}`, "--wait")
	require.Contains(t, out, "1 of 1 targets succeeded")

	registered := time.Now()
	h.register("boot-2", 41)
	var newRun workflows.ExecutionRecord
	require.Eventually(t, func() bool {
		var recs []workflows.ExecutionRecord
		if err := json.Unmarshal([]byte(ok(t, "association", "executions", "bootstrap", "--output", "json")), &recs); err != nil {
			return false
		}
		for _, r := range recs {
			if r.Reason == workflows.ReasonNewNode && r.Status == contract.StatusSuccess {
				newRun = r
				return true
			}
		}
		return false
	}, 10*time.Second, 200*time.Millisecond, "no NewNode run within 10s")
	t.Logf("bootstrap run finished %s after registration", time.Since(registered))
	outs := targetsJSON(t, "bootstrap", newRun.ExecutionID)
	require.Len(t, outs, 1, "only the new node runs")
	require.Equal(t, "boot-2", outs[0].NodeID)
	require.Equal(t, "bootstrapped\n", outs[0].Output[0].Stdout)

	// Re-registering an unchanged node does not run it again.
	h.register("boot-2", 41)
	time.Sleep(2 * time.Second)
	var recs []workflows.ExecutionRecord
	require.NoError(t, json.Unmarshal([]byte(ok(t, "association", "executions", "bootstrap", "--output", "json")), &recs))
	require.Len(t, recs, 2)
	ok(t, "association", "delete", "bootstrap")
}

// A burst of registrations into several associations' targets is gathered
// into a handful of new-node runs per association, which reach every new
// node once, and deleting an association still answers at once.
//
// STEAD_BURST=NODES,ASSOCIATIONS sizes the burst (60 nodes and 3
// associations by default; a bootstrap storm is 1000,10).
func TestNewNodeBurstIsGathered(t *testing.T) {
	h := setup(t)
	nodes, associations := 60, 3
	if v := os.Getenv("STEAD_BURST"); v != "" {
		_, err := fmt.Sscanf(v, "%d,%d", &nodes, &associations)
		require.NoError(t, err, "STEAD_BURST=NODES,ASSOCIATIONS")
	}
	for i := range associations {
		ok(t, "association", "create", "--name", fmt.Sprintf("burst-%d", i), "--document", "Stead-RunShellScript",
			"--targets", "Key=tag:role,Values="+h.tag, "--schedule", "rate(1 day)",
			"--parameters", `{"commands":["echo bootstrapped"]}`, "--wait")
	}
	var b strings.Builder
	for i := range nodes {
		fmt.Fprintf(&b, "- id: burst-%d\n  address: 127.0.%d.%d\n  port: %d\n  user: %s\n  hostKey: %s\n  tags: {role: %s}\n",
			i, 3+i/250, 1+i%250, h.sshd.Port, h.sshd.User, h.sshd.HostKey, h.tag)
	}
	file := filepath.Join(t.TempDir(), "nodes.yaml")
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o644))
	ok(t, "node", "import", file)
	registered := time.Now()

	for i := range associations {
		name := fmt.Sprintf("burst-%d", i)
		var runs []workflows.ExecutionRecord
		reached := map[string]int{}
		require.Eventually(t, func() bool {
			var recs []workflows.ExecutionRecord
			if err := json.Unmarshal([]byte(ok(t, "association", "executions", name, "--output", "json")), &recs); err != nil {
				return false
			}
			runs, reached = nil, map[string]int{}
			for _, r := range recs {
				if r.Reason != workflows.ReasonNewNode {
					continue
				}
				if r.Status == contract.StatusInProgress {
					return false
				}
				runs = append(runs, r)
				for _, o := range targetsJSON(t, name, r.ExecutionID) {
					if o.Status == contract.StatusSuccess {
						reached[o.NodeID]++
					}
				}
			}
			return len(reached) == nodes
		}, 30*time.Second, time.Second, "every new node reached by %s within 30s", name)
		t.Logf("%s: %d nodes reached by %d new-node runs, %s after the import", name, nodes, len(runs), time.Since(registered).Round(time.Second))
		require.LessOrEqual(t, len(runs), 3, "a handful of new-node runs")
		for id, n := range reached {
			require.Equal(t, 1, n, "%s reached once by %s", id, name)
		}
	}
	for i := range associations {
		started := time.Now()
		ok(t, "association", "delete", fmt.Sprintf("burst-%d", i))
		require.Less(t, time.Since(started), 30*time.Second, "delete answers in seconds")
	}
}

func TestUpdateMakesVersionsAndRuns(t *testing.T) {
	h := setup(t)
	h.register("upd-1", 50)
	ok(t, "association", "create", "--name", "updates", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=upd-1", "--parameters", "commands=echo v1", "--wait")

	// A change of what runs makes version 2 and runs it.
	out := ok(t, "association", "update", "updates", "--parameters", "commands=echo v2", "--association-version", "1", "--wait")
	require.Contains(t, out, "updated to version 2")
	outs := targetsJSON(t, "updates", execID(t, out))
	require.Equal(t, "v2\n", outs[0].Output[0].Stdout)

	// A stale version is refused and changes nothing.
	fails(t, "is at version 2, not 1", "association", "update", "updates", "--max-errors", "3", "--association-version", "1")
	// A rate-control change is a version but not a run.
	out = ok(t, "association", "update", "updates", "--max-errors", "3")
	require.Contains(t, out, "updated to version 3")
	require.NotContains(t, out, "queued")
	fails(t, "max-errors", "association", "update", "updates", "--max-errors", "lots")

	var versions []workflows.AssociationVersion
	require.NoError(t, json.Unmarshal([]byte(ok(t, "association", "versions", "updates", "--output", "json")), &versions))
	require.Len(t, versions, 3)
	require.Equal(t, "3", versions[2].Spec.MaxErrors.String())
	require.Equal(t, "0", versions[1].Spec.MaxErrors.String())
	require.Equal(t, map[string]any{"commands": "echo v2"}, versions[1].Spec.Parameters)

	var recs []workflows.ExecutionRecord
	require.NoError(t, json.Unmarshal([]byte(ok(t, "association", "executions", "updates", "--output", "json")), &recs))
	reasons := []string{}
	for _, r := range recs {
		reasons = append(reasons, r.Reason)
	}
	require.Equal(t, []string{workflows.ReasonUpdate, workflows.ReasonCreate}, reasons)
	ok(t, "association", "delete", "updates")
}

func TestApplyOnlyAtCronIntervalDoesNotRunAtCreate(t *testing.T) {
	h := setup(t)
	h.register("cron-1", 60)
	fails(t, "needs a cron(...) schedule", "association", "create", "--name", "cron-only", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=cron-1", "--parameters", "commands=true", "--apply-only-at-cron-interval")
	out := ok(t, "association", "create", "--name", "cron-only", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=cron-1", "--parameters", "commands=true",
		"--schedule", "cron(0 3 ? * SUN *)", "--apply-only-at-cron-interval")
	require.Contains(t, out, "runs on its schedule")
	time.Sleep(time.Second)
	require.Contains(t, ok(t, "association", "executions", "cron-only"), "EXECUTION")
	require.Equal(t, 1, strings.Count(ok(t, "association", "executions", "cron-only"), "\n"), "no execution")
	desc := ok(t, "association", "describe", "cron-only")
	require.Contains(t, desc, "cron(0 3 ? * SUN *)")
	ok(t, "association", "delete", "cron-only")
}

func TestComplianceFollowsLastRun(t *testing.T) {
	h := setup(t)
	h.register("comp-1", 70)
	h.register("comp-2", 71)
	// comp-2 (127.0.0.71) fails.
	_, _, code := stead(t, "association", "create", "--name", "compliance", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:role,Values="+h.tag, "--compliance-severity", "HIGH", "--max-errors", "100%",
		"--parameters", `{"commands":["case \"$SSH_CONNECTION\" in *' 127.0.0.71 '*) exit 1;; esac"]}`, "--wait")
	require.Equal(t, 1, code)

	var recs []cli.NodeCompliance
	require.Eventually(t, func() bool {
		recs = nil
		_ = json.Unmarshal([]byte(ok(t, "compliance", "list", "--association", "compliance", "--output", "json")), &recs)
		return len(recs) == 2
	}, 10*time.Second, 200*time.Millisecond)
	require.Equal(t, "comp-1", recs[0].NodeID)
	require.Equal(t, contract.Compliant, recs[0].Status)
	require.Equal(t, "HIGH", recs[0].Severity)
	require.Equal(t, contract.NonCompliant, recs[1].Status)

	nc := ok(t, "compliance", "list", "--status", "non_compliant", "--association", "compliance")
	require.Contains(t, nc, "comp-2")
	require.NotContains(t, nc, "comp-1")
	var counts []cli.ComplianceCount
	require.NoError(t, json.Unmarshal([]byte(ok(t, "compliance", "summary", "--output", "json")), &counts))
	require.Contains(t, counts, cli.ComplianceCount{Association: "compliance", Severity: "HIGH", Compliant: 1, NonCompliant: 1})
	fails(t, `status "maybe"`, "compliance", "list", "--status", "maybe")
	ok(t, "association", "delete", "compliance")
}
