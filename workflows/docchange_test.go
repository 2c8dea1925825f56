package workflows

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/schedule"
)

// associationEnv runs AssociationWorkflow with executions mocked; it
// returns the executions started, in order.
func associationEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *[]startedRun) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(AssociationWorkflow)
	env.RegisterWorkflow(ExecutionWorkflow)
	env.RegisterActivity(&activities.Activities{})
	env.OnActivity(acts.CheckDocument, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PrepareInput) (string, error) { return in.Document, nil }).Maybe()
	runs := []startedRun{}
	env.OnWorkflow(ExecutionWorkflow, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in ExecutionInput) (ExecutionResult, error) {
		runs = append(runs, startedRun{Reason: in.Reason, Nodes: len(in.Nodes), At: env.Now(), LastRunEnded: in.LastRunEnded})
		return ExecutionResult{ExecutionID: in.ExecutionID, Status: contract.StatusSuccess, Counts: Counts{Total: 1, Success: 1}}, nil
	}).Maybe()
	return env, &runs
}

// startedRun is an execution an association started: why, for how many
// new nodes, when, and when the run before it ended.
type startedRun struct {
	Reason       string
	Nodes        int
	At           time.Time
	LastRunEnded time.Time
}

func reasons(runs []startedRun) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.Reason
	}
	return out
}

// An association whose workflow resumes four hours after its slot (no
// worker ran meanwhile: eight rate(30 minutes) slots were missed) runs
// once at once, then on its grid again, never once per missed slot.
func TestMissedSlotsFireOnce(t *testing.T) {
	env, runs := associationEnv(t)
	start := time.Date(2026, 3, 1, 12, 10, 0, 0, time.UTC)
	env.SetStartTime(start)
	sched, err := schedule.ParseWithMinimumRate("rate(30 minutes)", time.Minute)
	require.NoError(t, err)
	anchor := start.Add(-5*time.Hour - 10*time.Minute)
	st := AssociationState{
		Spec: AssociationSpec{Name: "web", Document: "Stead-RunShellScript", Schedule: sched}, Version: 1,
		CreatedAt: anchor, ScheduleAnchor: anchor, Status: contract.StatusSuccess, NextRunAt: start.Add(-4 * time.Hour),
	}
	var described AssociationState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(contract.AssociationQueryDescribe)
		require.NoError(t, err)
		require.NoError(t, v.Get(&described))
		env.UpdateWorkflow(contract.AssociationUpdateDelete, "del", &updateCallbacks{t: t}, DeleteRequest{By: "test"})
	}, 15*time.Minute)
	env.ExecuteWorkflow(AssociationWorkflow, CreateAssociationInput{}, &st)
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{ReasonSched}, reasons(*runs), "one run for every missed slot together")
	require.Equal(t, start.Add(20*time.Minute), described.NextRunAt.UTC(), "the next slot is on the grid, after recovery")
}

// A new $LATEST version runs an association that uses $LATEST, with
// reason DocumentChange; a change of the default does not.
func TestDocumentChangeRunsAssociation(t *testing.T) {
	env, runs := associationEnv(t)
	spec := validSpec()
	spec.Document = "my-doc:$LATEST"
	signal := func(after time.Duration, m contract.DocumentChanged) {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalDocumentChanged, m) }, after)
	}
	signal(time.Minute, contract.DocumentChanged{Document: "my-doc", Default: true, Version: 2})
	signal(2*time.Minute, contract.DocumentChanged{Document: "other-doc", Latest: true, Version: 2})
	signal(3*time.Minute, contract.DocumentChanged{Document: "my-doc", Latest: true, Version: 3})
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(contract.AssociationUpdateDelete, "del", &updateCallbacks{t: t}, DeleteRequest{By: "test"})
	}, 10*time.Minute)
	env.ExecuteWorkflow(AssociationWorkflow, CreateAssociationInput{Spec: spec, By: "test", ExecutionID: "first"}, (*AssociationState)(nil))
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{ReasonCreate, ReasonDocumentChange}, reasons(*runs))
}

// New nodes are gathered into one run until none has come for a second,
// and for ten seconds at most: a burst makes a handful of runs, a lone
// node runs a second after it came.
func TestNewNodesAreGathered(t *testing.T) {
	env, runs := associationEnv(t)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	matched := 0
	burst := func(at, every time.Duration, n int) {
		for i := range n {
			env.RegisterDelayedCallback(func() {
				matched++
				env.SignalWorkflow(contract.SignalNodeMatched, contract.NodeMatched{NodeID: fmt.Sprintf("n%d", matched), At: env.Now()})
			}, at+time.Duration(i)*every)
		}
	}
	burst(time.Minute, 500*time.Millisecond, 20)                        // 9.5s, gaps under a second
	burst(3*time.Minute, 0, 1)                                          // a lone node
	burst(5*time.Minute+100*time.Millisecond, 300*time.Millisecond, 40) // 11.7s, longer than the window
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(contract.AssociationUpdateDelete, "del", &updateCallbacks{t: t}, DeleteRequest{By: "test"})
	}, 10*time.Minute)
	env.ExecuteWorkflow(AssociationWorkflow, CreateAssociationInput{Spec: validSpec(), By: "test", ExecutionID: "first"}, (*AssociationState)(nil))
	require.NoError(t, env.GetWorkflowError())
	type run struct {
		Reason string
		Nodes  int
		After  time.Duration
	}
	var got []run
	for _, r := range *runs {
		got = append(got, run{r.Reason, r.Nodes, r.At.Sub(start)})
	}
	require.Equal(t, []run{
		{ReasonCreate, 0, 0},
		{ReasonNewNode, 20, time.Minute + 10*time.Second},
		{ReasonNewNode, 1, 3*time.Minute + time.Second},
		{ReasonNewNode, 34, 5*time.Minute + 10100*time.Millisecond},
		{ReasonNewNode, 6, 5*time.Minute + 12800*time.Millisecond},
	}, got)
	// A new-node run is told when the run before it ended (these end as
	// they start), so the nodes that matched after it need no check that
	// the earlier run reached them.
	for i, r := range (*runs)[1:] {
		require.True(t, r.LastRunEnded.Equal((*runs)[i].At), "run %d: the run before ended at %s, not %s", i+1, (*runs)[i].At, r.LastRunEnded)
	}
}
