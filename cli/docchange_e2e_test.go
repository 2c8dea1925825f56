package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/workflows"
)

// A new version of a document runs the associations that use it by
// $LATEST, and a new default those that use it by name, with reason
// DocumentChange; an association pinned to a version does not run.
func TestDocumentChangeRunsAssociations(t *testing.T) {
	h := setup(t)
	h.register("dc-1", 70)
	dir := t.TempDir()
	write := func(word string) string {
		f := filepath.Join(dir, word+".json")
		require.NoError(t, os.WriteFile(f, []byte(`{"schemaVersion":"2.2","mainSteps":[{"action":"aws:runShellScript","name":"say","inputs":{"runCommand":["echo `+word+`"]}}]}`), 0o644))
		return f
	}
	ok(t, "document", "create", "--name", "dc-doc", "--file", write("one"))
	for _, a := range [][2]string{{"dc-latest", "dc-doc:$LATEST"}, {"dc-default", "dc-doc"}, {"dc-pinned", "dc-doc:1"}} {
		ok(t, "association", "create", "--name", a[0], "--document", a[1], "--targets", "Key=InstanceIds,Values=dc-1", "--wait")
	}

	// runOf waits for the association's DocumentChange run to succeed and
	// returns what it printed.
	runOf := func(name string) string {
		var run workflows.ExecutionRecord
		require.Eventually(t, func() bool {
			var recs []workflows.ExecutionRecord
			if json.Unmarshal([]byte(ok(t, "association", "executions", name, "--output", "json")), &recs) != nil {
				return false
			}
			for _, r := range recs {
				if r.Reason == workflows.ReasonDocumentChange && r.Status == contract.StatusSuccess {
					run = r
					return true
				}
			}
			return false
		}, 30*time.Second, 200*time.Millisecond, "%s: no DocumentChange run", name)
		outs := targetsJSON(t, name, run.ExecutionID)
		require.Len(t, outs, 1)
		return outs[0].Output[0].Stdout
	}
	// executions counts an association's runs.
	executions := func(name string) int {
		var recs []workflows.ExecutionRecord
		require.NoError(t, json.Unmarshal([]byte(ok(t, "association", "executions", name, "--output", "json")), &recs))
		return len(recs)
	}

	ok(t, "document", "update", "--name", "dc-doc", "--file", write("two"))
	require.Equal(t, "two\n", runOf("dc-latest"))
	require.Equal(t, 1, executions("dc-default"), "the default is still version 1")

	ok(t, "document", "set-default", "dc-doc", "--version", "2")
	require.Equal(t, "two\n", runOf("dc-default"))
	require.Equal(t, 1, executions("dc-pinned"))
	require.Equal(t, 2, executions("dc-latest"), "a new default is no new $LATEST")
	for _, a := range []string{"dc-latest", "dc-default", "dc-pinned"} {
		ok(t, "association", "delete", a)
	}
	ok(t, "document", "delete", "dc-doc")
}
