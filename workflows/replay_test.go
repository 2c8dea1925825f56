package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/stead-io/stead/worker"
	"github.com/stead-io/stead/workflows/histories"
)

// TestReplayFixtures replays every fixture of every version folder against
// today's workflow code, with the workflows registered as a worker registers
// them: a change that would break a workflow recorded by any version fails
// here. A fixture that does not parse, an empty folder or a file outside the
// layout fails too, so nothing is silently left unreplayed.
func TestReplayFixtures(t *testing.T) {
	entries, err := os.ReadDir(histories.Dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries, "no version folders in %s", histories.Dir)
	for _, e := range entries {
		dir := filepath.Join(histories.Dir, e.Name())
		require.True(t, e.IsDir(), "%s: only version folders belong in %s", dir, histories.Dir)
		require.NoError(t, histories.CheckVersion(e.Name()), dir)
		t.Run(e.Name(), func(t *testing.T) {
			fixtures, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.NotEmpty(t, fixtures, "%s holds no fixtures", dir)
			for _, f := range fixtures {
				path := filepath.Join(dir, f.Name())
				require.True(t, f.Type().IsRegular(), "%s is not a fixture file", path)
				workflowType, err := histories.WorkflowType(f.Name())
				require.NoError(t, err, path)
				t.Run(strings.TrimSuffix(f.Name(), ".json"), func(t *testing.T) { replayFixture(t, path, workflowType) })
			}
		})
	}
}

// replayFixture replays one fixture, whose history must be of workflowType.
func replayFixture(t *testing.T, path, workflowType string) {
	file, err := os.Open(path)
	require.NoError(t, err)
	defer file.Close()
	history, err := client.HistoryFromJSON(file, client.HistoryJSONOptions{})
	require.NoError(t, err, "parse %s", path)
	require.NotEmpty(t, history.GetEvents(), "%s holds no events", path)
	started := history.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
	require.NotNil(t, started, "%s does not begin with the workflow's start", path)
	require.Equal(t, workflowType, started.GetWorkflowType().GetName(), "%s: the workflow type its name says", path)

	replayer := sdkworker.NewWorkflowReplayer()
	worker.RegisterWorkflows(replayer)
	require.NoError(t, replayer.ReplayWorkflowHistory(nil, history), "replay %s", path)
}
