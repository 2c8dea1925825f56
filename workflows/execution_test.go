package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/ratecontrol"
	"github.com/stead-io/stead/internal/targets"
)

var acts *activities.Activities

func testPlan() *documents.Plan {
	return &documents.Plan{DocumentName: "Stead-RunShellScript", DocumentVersion: "1", DocumentHash: "sha256:00",
		Steps: []documents.PlanStep{{Name: "runShellScript", Action: documents.ActionRunShellScript, Shell: "sh", Script: "true", TimeoutSeconds: 60}}}
}

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(ExecutionWorkflow)
	env.RegisterActivity(&activities.Activities{})
	t.Cleanup(func() { env.AssertExpectations(t) })
	return env
}

func execInput(conc, maxErr string) ExecutionInput {
	c, err := ratecontrol.Parse("c", conc, 1)
	if err != nil {
		panic(err)
	}
	e, err := ratecontrol.Parse("e", maxErr, 0)
	if err != nil {
		panic(err)
	}
	return ExecutionInput{
		AssociationName: "web", ExecutionID: "e1", Reason: ReasonCreate,
		Spec: AssociationSpec{Name: "web", Document: "Stead-RunShellScript", MaxConcurrency: c, MaxErrors: e,
			Targets: []targets.Target{{Key: "InstanceIds", Values: []string{"*"}}}},
	}
}

// in is nodes of a region, as ResolveTargets returns them.
func in(region string, ids ...string) []contract.TargetRef {
	out := make([]contract.TargetRef, len(ids))
	for i, id := range ids {
		out[i] = contract.TargetRef{NodeID: id, Region: region, Platform: "linux"}
	}
	return out
}

// ids names n nodes prefix0, prefix1, ...
func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return out
}

// fleet answers ResolveTargets as the activity does, a page at a time: each
// page is a range of shards, the first page counts the matching nodes and
// names the missing ones.
type fleet struct {
	pages   [][]contract.TargetRef
	missing []string
	// counted, when set, is how many nodes the first page says match: a
	// fleet that changed after it was counted.
	counted int

	mu    sync.Mutex
	asked []activities.ResolveInput
}

func onePage(nodes ...[]contract.TargetRef) *fleet {
	return &fleet{pages: [][]contract.TargetRef{slices.Concat(nodes...)}}
}

func (f *fleet) span() int64 {
	return (contract.NodeShards + int64(len(f.pages)) - 1) / int64(len(f.pages))
}

// total is how many targets the first page counts.
func (f *fleet) total() int {
	n := f.counted
	if n == 0 {
		for _, p := range f.pages {
			n += len(p)
		}
	}
	return n + len(f.missing)
}

func (f *fleet) resolve(_ context.Context, in activities.ResolveInput) (activities.ResolveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, in)
	var res activities.ResolveResult
	k := 0
	if in.Page == (activities.Page{}) {
		res.Total, res.Missing = f.total(), f.missing
	} else {
		if in.Page.Span != f.span() || in.Page.Shard%f.span() != 0 || in.Page.Done() {
			return res, fmt.Errorf("no such page %+v", in.Page)
		}
		k = int(in.Page.Shard / f.span())
	}
	res.Nodes = f.pages[k]
	res.Next = activities.Page{Shard: int64(k+1) * f.span(), Span: f.span()}
	return res, nil
}

// batchDuration is how long each emulated batch takes on the workflow's
// clock, so that batches the workflow runs at once overlap in time.
const batchDuration = time.Minute

// batchRunner emulates RunBatch: it runs a batch's nodes in order,
// in.Concurrency of them at once, each finishing in the order it started;
// a node succeeds or fails with its exit code, or is undeliverable; it
// starts no node once more than in.AllowFailures of the batch's nodes have
// failed, and returns those it did not start. It records every batch, with
// when it ran on the workflow's clock.
type batchRunner struct {
	t             *testing.T
	exits         map[string]int
	undeliverable map[string]string
	// err, when set, fails every batch; failAttempts fails only the first
	// attempts of each batch with a retryable error, as a worker that died.
	err          error
	failAttempts int32

	mu      sync.Mutex
	env     *testsuite.TestWorkflowEnvironment
	run     int
	ran     map[string]int
	batches []ranBatch
}

// ranBatch is a batch the emulation ran, in the workflow run numbered run
// (an execution continues as new).
type ranBatch struct {
	run        int
	in         activities.BatchInput
	taskQueue  string
	start, end time.Time
}

// bind makes the emulation answer RunBatch in a new workflow run's env.
func (b *batchRunner) bind(env *testsuite.TestWorkflowEnvironment) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.env = env
	b.run++
	env.OnActivity(acts.RunBatch, mock.Anything, mock.Anything).Return(b.runBatch).After(batchDuration).Maybe()
}

func (b *batchRunner) runBatch(ctx context.Context, in activities.BatchInput) (contract.BatchResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return contract.BatchResult{}, b.err
	}
	if activity.GetInfo(ctx).Attempt <= b.failAttempts {
		return contract.BatchResult{}, errors.New("worker lost")
	}
	end := b.env.Now()
	b.batches = append(b.batches, ranBatch{run: b.run, in: in, taskQueue: activity.GetInfo(ctx).TaskQueue, start: end.Add(-batchDuration), end: end})
	if in.Concurrency < 1 {
		b.t.Errorf("batch concurrency %d", in.Concurrency)
	}
	if len(in.Nodes) == 0 || len(in.Nodes) > maxBatchNodes {
		b.t.Errorf("batch of %d nodes", len(in.Nodes))
	}
	if in.ExecutionID != "e1" || in.AssociationName != "web" || in.Plan.DocumentHash != "sha256:00" {
		b.t.Errorf("batch of another execution or plan: %+v", in)
	}
	if b.ran == nil {
		b.ran = map[string]int{}
	}
	conc := max(1, in.Concurrency)
	var res contract.BatchResult
	var failed int
	for i, r := range in.Nodes {
		if r.Region != in.Nodes[0].Region {
			b.t.Errorf("batch mixes regions %s and %s", in.Nodes[0].Region, r.Region)
		}
		// Node i starts once node i-conc finished: the failures by then
		// are those of the nodes up to i-conc.
		if i >= conc {
			if s := res.Nodes[i-conc]; countsAsError(s.Status) {
				failed++
			}
			if in.AllowFailures >= 0 && failed > in.AllowFailures {
				for _, rest := range in.Nodes[i:] {
					res.NotStarted = append(res.NotStarted, rest.NodeID)
				}
				break
			}
		}
		b.ran[r.NodeID]++
		res.Nodes = append(res.Nodes, b.outcome(r.NodeID, end))
	}
	return res, nil
}

func countsAsError(status string) bool {
	var c Counts
	c.add(status, 1)
	return c.Errors() > 0
}

// outcome is how a node's run ends, with output the execution must not keep.
func (b *batchRunner) outcome(id string, at time.Time) contract.TargetSummary {
	code := b.exits[id]
	s := contract.TargetSummary{NodeID: id, Status: contract.StatusSuccess, ExitCode: code, StartedAt: at, EndedAt: at}
	switch {
	case b.undeliverable[id] != "":
		s.Status, s.DetailedStatus, s.ExitCode = contract.StatusUndeliverable, b.undeliverable[id], -1
	case code != 0:
		s.Status, s.DetailedStatus = contract.StatusFailed, fmt.Sprintf("step runShellScript: exit code %d", code)
	}
	s.Steps = []contract.StepSummary{{Name: "runShellScript", Status: s.Status, ExitCode: s.ExitCode, Attempt: 1, Stdout: "out-" + id, Stderr: "err-" + id}}
	return s
}

// ranBatches lists the batches the emulation ran in the order the workflow started
// them: by run and start time, then by their first node, since batches
// started at once take a page's nodes in order.
func (b *batchRunner) ranBatches() []ranBatch {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := slices.Clone(b.batches)
	slices.SortStableFunc(out, func(x, y ranBatch) int {
		if x.run != y.run {
			return x.run - y.run
		}
		if c := x.start.Compare(y.start); c != 0 {
			return c
		}
		return strings.Compare(x.in.Nodes[0].NodeID, y.in.Nodes[0].NodeID)
	})
	return out
}

// peakConcurrency is the most concurrency the batches of one workflow run
// held at once; a batch ending when another starts does not overlap it.
func (b *batchRunner) peakConcurrency() int {
	batches := b.ranBatches()
	peak := 0
	for _, x := range batches {
		sum := 0
		for _, y := range batches {
			if y.run == x.run && !y.start.After(x.start) && y.end.After(x.start) {
				sum += y.in.Concurrency
			}
		}
		peak = max(peak, sum)
	}
	return peak
}

// batchNodes lists each batch's nodes.
func (b *batchRunner) batchNodes() [][]string {
	var out [][]string
	for _, x := range b.ranBatches() {
		var ids []string
		for _, r := range x.in.Nodes {
			ids = append(ids, r.NodeID)
		}
		out = append(out, ids)
	}
	return out
}

// runExecution runs an execution on a fleet with batches emulated, to its
// end across continue-as-new the way the server would. It returns the
// result and the inputs of the runs after the first. It checks that the
// concurrency of the batches running at once never exceeded the execution's
// MaxConcurrency, and that every target ended.
func runExecution(t *testing.T, in ExecutionInput, f *fleet, b *batchRunner, setup ...func(*testsuite.TestWorkflowEnvironment)) (ExecutionResult, []ExecutionInput) {
	b.t = t
	prepared := 0
	var next []ExecutionInput
	for range 20 {
		env := newEnv(t)
		env.OnActivity(acts.PrepareDocument, mock.Anything, mock.Anything).Return(func(context.Context, activities.PrepareInput) (*documents.Plan, error) {
			prepared++
			return testPlan(), nil
		}).Maybe()
		env.OnActivity(acts.ResolveTargets, mock.Anything, mock.Anything).Return(f.resolve).Maybe()
		b.bind(env)
		for _, s := range setup {
			s(env)
		}
		env.ExecuteWorkflow(ExecutionWorkflow, in)
		require.True(t, env.IsWorkflowCompleted())
		var can *workflow.ContinueAsNewError
		if err := env.GetWorkflowError(); errors.As(err, &can) {
			in = ExecutionInput{}
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
			require.NotNil(t, in.Carry)
			next = append(next, in)
			continue
		}
		res := endedResult(t, env)
		require.Equal(t, 1, prepared, "the document is prepared once")
		require.LessOrEqual(t, b.peakConcurrency(), in.Spec.MaxConcurrency.Concurrency(f.total()), "batches running at once")
		require.Zero(t, res.Counts.Pending+res.Counts.InProgress, "every target ended")
		require.Equal(t, len(next)+1, res.Runs)
		return res, next
	}
	t.Fatal("execution never ended")
	return ExecutionResult{}, nil
}

// ranOnce checks that each node ran exactly once, and no other node ran.
func ranOnce(t *testing.T, b *batchRunner, want ...string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Len(t, b.ran, len(want), "nodes that ran: %v", b.ran)
	for _, id := range want {
		require.Equal(t, 1, b.ran[id], "runs of %s", id)
	}
}

func failureIDs(res ExecutionResult) []string {
	var out []string
	for _, f := range res.Failures {
		out = append(out, f.NodeID)
	}
	return out
}

func TestExecutionAllSucceed(t *testing.T) {
	b := &batchRunner{}
	f := onePage(in(contract.DefaultRegion, "a", "b", "c"))
	res, next := runExecution(t, execInput("2", "0"), f, b)
	require.Empty(t, next)
	require.Equal(t, contract.StatusSuccess, res.Status)
	require.Equal(t, "3 of 3 targets succeeded", res.DetailedStatus)
	require.Equal(t, Counts{Total: 3, Success: 3}, res.Counts)
	require.Equal(t, "sha256:00", res.DocumentHash)
	require.Equal(t, "Stead-RunShellScript", res.Document)
	require.Equal(t, "1", res.DocumentVersion)
	require.Empty(t, res.Failures)
	require.Empty(t, res.NotRun)
	ranOnce(t, b, "a", "b", "c")
	require.Equal(t, [][]string{{"a", "b", "c"}}, b.batchNodes())
	require.Equal(t, 1, res.Batches)
	require.Equal(t, 2, b.ranBatches()[0].in.Concurrency)
	require.Equal(t, 0, b.ranBatches()[0].in.AllowFailures)
	require.Equal(t, contract.RegionTaskQueue(contract.DefaultRegion), b.ranBatches()[0].taskQueue)
	require.Len(t, f.asked, 1)
	require.Equal(t, pageNodes, f.asked[0].Limit)
	require.Equal(t, "web", f.asked[0].Association)
	require.Equal(t, execInput("2", "0").Spec.Targets, f.asked[0].Targets)
}

func TestExecutionNoTargets(t *testing.T) {
	b := &batchRunner{}
	res, _ := runExecution(t, execInput("2", "0"), onePage(), b)
	require.Equal(t, contract.StatusSuccess, res.Status)
	require.Equal(t, "no targets matched", res.DetailedStatus)
	require.Equal(t, Counts{}, res.Counts)
	require.Empty(t, b.ranBatches())
}

func TestExecutionStopsAtMaxErrors(t *testing.T) {
	cases := []struct {
		name, conc, maxErrors string
		nodes                 []string
		exits                 map[string]int
		ran                   []string
		notRun                []string
		counts                Counts
		detail                string
		batchConc, allow      int
	}{
		{
			// a succeeds, b fails (1 error tolerated), c fails (2 > 1): stop.
			name: "one error tolerated", conc: "1", maxErrors: "1", nodes: []string{"a", "b", "c", "d", "e"}, exits: map[string]int{"b": 1, "c": 2},
			ran: []string{"a", "b", "c"}, notRun: []string{"d", "e"}, counts: Counts{Total: 5, Success: 1, Failed: 2, Skipped: 2},
			detail: "stopped after 2 errors (MaxErrors 1): 1 succeeded, 2 skipped", batchConc: 1, allow: 1,
		},
		{
			name: "no error tolerated", conc: "1", maxErrors: "0", nodes: []string{"a", "b", "c"}, exits: map[string]int{"b": 1},
			ran: []string{"a", "b"}, notRun: []string{"c"}, counts: Counts{Total: 3, Success: 1, Failed: 1, Skipped: 1},
			detail: "stopped after 1 errors (MaxErrors 0): 1 succeeded, 1 skipped", batchConc: 1, allow: 0,
		},
		{
			// As in SSM, the nodes running when the errors exceed MaxErrors
			// finish: c started when a ended, before b failed.
			name: "no error tolerated, two at once", conc: "2", maxErrors: "0", nodes: []string{"a", "b", "c", "d", "e"}, exits: map[string]int{"b": 1},
			ran: []string{"a", "b", "c"}, notRun: []string{"d", "e"}, counts: Counts{Total: 5, Success: 2, Failed: 1, Skipped: 2},
			detail: "stopped after 1 errors (MaxErrors 0): 2 succeeded, 2 skipped", batchConc: 2, allow: 0,
		},
		{
			// 50% of 10 is 5 at once; 10% of 10 is 1 error tolerated. n5
			// starts when n0 ended, n6 when n1 ended (1 error), n7 would start
			// when n2 ended (2 errors): stop.
			name: "percentages", conc: "50%", maxErrors: "10%", nodes: ids("n", 10), exits: map[string]int{"n001": 1, "n002": 1},
			ran: ids("n", 7), notRun: ids("n", 10)[7:], counts: Counts{Total: 10, Success: 5, Failed: 2, Skipped: 3},
			detail: "stopped after 2 errors (MaxErrors 10%): 5 succeeded, 3 skipped", batchConc: 5, allow: 1,
		},
		{
			name: "every error tolerated", conc: "2", maxErrors: "100%", nodes: []string{"a", "b", "c"}, exits: map[string]int{"a": 1, "b": 1, "c": 1},
			ran: []string{"a", "b", "c"}, counts: Counts{Total: 3, Failed: 3},
			detail: "3 of 3 targets failed (3 failed, 0 timed out, 0 undeliverable)", batchConc: 2, allow: -1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &batchRunner{exits: c.exits}
			res, _ := runExecution(t, execInput(c.conc, c.maxErrors), onePage(in(contract.DefaultRegion, c.nodes...)), b)
			require.Equal(t, contract.StatusFailed, res.Status)
			require.Equal(t, c.detail, res.DetailedStatus)
			ranOnce(t, b, c.ran...)
			require.Equal(t, c.counts, res.Counts)
			if c.notRun == nil {
				require.Empty(t, res.NotRun)
			} else {
				require.Equal(t, []NotRun{{Status: contract.StatusSkipped, DetailedStatus: "MaxErrors reached: not run", Count: len(c.notRun), Nodes: c.notRun}}, res.NotRun)
			}
			var failed []string
			for _, id := range c.ran {
				if c.exits[id] != 0 {
					failed = append(failed, id)
				}
			}
			require.Equal(t, failed, failureIDs(res))
			for _, s := range res.Failures {
				require.Equal(t, contract.StatusFailed, s.Status)
				require.Len(t, s.Steps, 1)
				require.Empty(t, s.Steps[0].Stdout+s.Steps[0].Stderr, "the execution keeps no output")
			}
			require.NotEmpty(t, b.ranBatches())
			require.Equal(t, c.batchConc, b.ranBatches()[0].in.Concurrency)
			require.Equal(t, c.allow, b.ranBatches()[0].in.AllowFailures)
		})
	}
}

func TestExecutionMissingAndUndeliverable(t *testing.T) {
	b := &batchRunner{undeliverable: map[string]string{
		"b": "step runShellScript: HostKeyMismatch: host key mismatch for b",
		"c": "NodeNotFound: node c is not registered",
	}}
	f := onePage(in(contract.DefaultRegion, "a", "b", "c"))
	f.missing = []string{"ghost"}
	res, _ := runExecution(t, execInput("10", "100%"), f, b)
	require.Equal(t, contract.StatusFailed, res.Status)
	require.Equal(t, "3 of 4 targets failed (0 failed, 0 timed out, 3 undeliverable)", res.DetailedStatus)
	require.Equal(t, Counts{Total: 4, Success: 1, Undeliverable: 3}, res.Counts)
	require.Equal(t, []string{"b", "c"}, failureIDs(res))
	require.Contains(t, res.Failures[0].DetailedStatus, "HostKeyMismatch")
	require.Equal(t, []NotRun{{Status: contract.StatusUndeliverable, DetailedStatus: "node is not registered", Count: 1, Nodes: []string{"ghost"}}}, res.NotRun)
	ranOnce(t, b, "a", "b", "c")
}

func TestExecutionBatchFails(t *testing.T) {
	t.Run("for good", func(t *testing.T) {
		b := &batchRunner{err: temporal.NewNonRetryableApplicationError("node id \"x y\" is not valid", activities.ErrNodeNotFound, nil)}
		res, _ := runExecution(t, execInput("2", "100%"), onePage(in(contract.DefaultRegion, "a", "b")), b)
		require.Equal(t, contract.StatusFailed, res.Status)
		require.Equal(t, Counts{Total: 2, Undeliverable: 2}, res.Counts)
		require.Equal(t, []string{"a", "b"}, failureIDs(res))
		for _, s := range res.Failures {
			require.Equal(t, contract.StatusUndeliverable, s.Status)
			require.Equal(t, "NodeNotFound: node id \"x y\" is not valid", s.DetailedStatus)
			require.Equal(t, -1, s.ExitCode)
		}
	})
	t.Run("then retried", func(t *testing.T) {
		// A batch whose worker died runs again: the nodes' results are
		// those of the attempt that finished.
		b := &batchRunner{failAttempts: 2}
		res, _ := runExecution(t, execInput("2", "0"), onePage(in(contract.DefaultRegion, "a", "b")), b)
		require.Equal(t, contract.StatusSuccess, res.Status, res.DetailedStatus)
		require.Equal(t, Counts{Total: 2, Success: 2}, res.Counts)
		require.Equal(t, 1, res.Batches)
		ranOnce(t, b, "a", "b")
	})
}

func TestExecutionBadDocumentFails(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.PrepareDocument, mock.Anything, mock.Anything).Return(nil,
		temporal.NewNonRetryableApplicationError("render document X: commands: required", activities.ErrInvalidDocument, nil)).Once()
	env.ExecuteWorkflow(ExecutionWorkflow, execInput("1", "0"))
	res := endedResult(t, env)
	require.Equal(t, contract.StatusFailed, res.Status)
	require.Equal(t, "prepare document: render document X: commands: required", res.DetailedStatus)
	require.Equal(t, Counts{}, res.Counts)
}

func TestExecutionPages(t *testing.T) {
	pages := [][]contract.TargetRef{in(contract.DefaultRegion, "a", "b", "c"), in(contract.DefaultRegion, "d", "e"), in(contract.DefaultRegion, "f", "g", "h")}
	all := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	t.Run("all pages run", func(t *testing.T) {
		b := &batchRunner{exits: map[string]int{"e": 3}}
		f := &fleet{pages: pages}
		var progress ExecutionResult
		res, _ := runExecution(t, execInput("2", "1"), f, b, func(env *testsuite.TestWorkflowEnvironment) {
			env.RegisterDelayedCallback(func() {
				v, err := env.QueryWorkflow(contract.ExecutionQueryProgress)
				require.NoError(t, err)
				require.NoError(t, v.Get(&progress))
			}, batchDuration/2)
		})
		require.Equal(t, contract.StatusInProgress, progress.Status)
		require.Equal(t, Counts{Total: 8, Pending: 5, InProgress: 3}, progress.Counts, "the first page runs, the others wait")
		require.Equal(t, contract.StatusFailed, res.Status)
		require.Equal(t, "1 of 8 targets failed (1 failed, 0 timed out, 0 undeliverable)", res.DetailedStatus)
		require.Equal(t, Counts{Total: 8, Success: 7, Failed: 1}, res.Counts)
		require.Equal(t, []string{"e"}, failureIDs(res))
		ranOnce(t, b, all...)
		require.Equal(t, [][]string{{"a", "b", "c"}, {"d", "e"}, {"f", "g", "h"}}, b.batchNodes())
		var asked []activities.Page
		for _, a := range f.asked {
			asked = append(asked, a.Page)
		}
		span := f.span()
		require.Equal(t, []activities.Page{{}, {Shard: span, Span: span}, {Shard: 2 * span, Span: span}}, asked)
	})
	// The fleet changed between the count and the pages: the counts follow
	// the nodes that ran.
	for _, counted := range []int{11, 2} {
		t.Run(fmt.Sprintf("%d counted", counted), func(t *testing.T) {
			b := &batchRunner{}
			res, _ := runExecution(t, execInput("2", "0"), &fleet{pages: pages, counted: counted}, b)
			require.Equal(t, contract.StatusSuccess, res.Status, res.DetailedStatus)
			require.Equal(t, Counts{Total: 8, Success: 8}, res.Counts)
			ranOnce(t, b, all...)
		})
	}
}

func TestExecutionRegions(t *testing.T) {
	cases := []struct {
		name     string
		conc     string
		nodes    [][]contract.TargetRef
		batches  [][]string
		batchCon []int
		peak     int
	}{
		{"concurrency shared", "4", [][]contract.TargetRef{in("r1", "a", "b", "c"), in("r2", "d", "e", "f")},
			[][]string{{"a", "b", "c"}, {"d", "e", "f"}}, []int{2, 2}, 4},
		{"one at a time", "1", [][]contract.TargetRef{in("r1", "a", "b"), in("r2", "c", "d")},
			[][]string{{"a", "b"}, {"c", "d"}}, []int{1, 1}, 1},
		{"more regions than concurrency", "2", [][]contract.TargetRef{in("r1", "a"), in("r2", "b"), in("r3", "c")},
			[][]string{{"a"}, {"b"}, {"c"}}, []int{1, 1, 1}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &batchRunner{}
			res, _ := runExecution(t, execInput(c.conc, "100%"), onePage(c.nodes...), b)
			require.Equal(t, contract.StatusSuccess, res.Status, res.DetailedStatus)
			require.Equal(t, c.batches, b.batchNodes())
			for i, x := range b.ranBatches() {
				require.Equal(t, c.batchCon[i], x.in.Concurrency, "batch %d", i)
				require.Equal(t, contract.RegionTaskQueue(x.in.Nodes[0].Region), x.taskQueue)
			}
			require.Equal(t, c.peak, b.peakConcurrency())
		})
	}
}

// TestExecutionErrorBudgetAcrossBatches checks that a batch starts only
// with a failure allowance the batches already running cannot use up: while
// r1's three nodes could still fail, r2's batch may not start under
// MaxErrors 1, and once r1's failures exceed it, r2's nodes never run.
func TestExecutionErrorBudgetAcrossBatches(t *testing.T) {
	b := &batchRunner{exits: map[string]int{"a": 1, "b": 1}}
	res, _ := runExecution(t, execInput("4", "1"), onePage(in("r1", "a", "b", "c"), in("r2", "d", "e", "f")), b)
	require.Equal(t, contract.StatusFailed, res.Status)
	require.Equal(t, [][]string{{"a", "b", "c"}}, b.batchNodes())
	ranOnce(t, b, "a", "b", "c")
	require.Equal(t, Counts{Total: 6, Success: 1, Failed: 2, Skipped: 3}, res.Counts)
	require.Equal(t, []NotRun{{Status: contract.StatusSkipped, DetailedStatus: "MaxErrors reached: not run", Count: 3, Nodes: []string{"d", "e", "f"}}}, res.NotRun)
}

// TestExecutionNotStartedRunLater checks that the nodes a batch did not
// start, because its own allowance ran out while the execution's did not,
// go back to the front of the queue and run in a later batch.
func TestExecutionNotStartedRunLater(t *testing.T) {
	// r1 and r2 start at once, one node at a time: r2's allowance is
	// MaxErrors less r1's running node, 0. b fails, so r2 does not start c
	// and d; the execution has 1 error of 1 allowed, so they run next,
	// before r3's e.
	b := &batchRunner{exits: map[string]int{"b": 1}}
	res, _ := runExecution(t, execInput("2", "1"), onePage(in("r1", "a"), in("r2", "b", "c", "d"), in("r3", "e")), b)
	require.Equal(t, contract.StatusFailed, res.Status)
	require.Equal(t, "1 of 5 targets failed (1 failed, 0 timed out, 0 undeliverable)", res.DetailedStatus)
	require.Equal(t, [][]string{{"a"}, {"b", "c"}, {"c", "d"}, {"e"}}, b.batchNodes())
	allow := []int{}
	for _, x := range b.ranBatches() {
		allow = append(allow, x.in.AllowFailures)
	}
	require.Equal(t, []int{1, 0, 0, 0}, allow)
	ranOnce(t, b, "a", "b", "c", "d", "e")
	require.Equal(t, Counts{Total: 5, Success: 4, Failed: 1}, res.Counts)
	require.Empty(t, res.NotRun)
}

func TestExecutionContinuesAsNew(t *testing.T) {
	// The test environment reports a history length of 0: a negative
	// bound continues as new after every batch.
	defer func(n int) { maxHistoryEvents = n }(maxHistoryEvents)
	maxHistoryEvents = -1
	pages := [][]contract.TargetRef{
		slices.Concat(in("r1", "n1", "n2"), in("r2", "n3", "n4", "n5")),
		in(contract.DefaultRegion, "n6", "n7", "n8"),
	}
	f := &fleet{pages: pages}
	b := &batchRunner{exits: map[string]int{"n5": 4}}
	res, next := runExecution(t, execInput("2", "1"), f, b)
	// r1's batch, r2's batch (carried as pending), the second page's batch,
	// then a run that finds nothing left.
	require.Len(t, next, 3)
	require.Equal(t, 4, res.Runs)
	require.Equal(t, 3, res.Batches)
	require.Equal(t, [][]string{{"n1", "n2"}, {"n3", "n4", "n5"}, {"n6", "n7", "n8"}}, b.batchNodes())
	ranOnce(t, b, "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8")
	require.Equal(t, Counts{Total: 8, Success: 7, Failed: 1}, res.Counts)
	require.Equal(t, []string{"n5"}, failureIDs(res))
	require.Equal(t, contract.StatusFailed, res.Status)
	var runs []int
	for _, x := range b.ranBatches() {
		runs = append(runs, x.run)
	}
	require.Equal(t, []int{1, 2, 3}, runs, "a batch per run")
	require.Len(t, f.asked, 2, "each page is resolved once")
	for i, n := range next {
		c := n.Carry
		require.LessOrEqual(t, len(c.Pending), len(pages[0]), "run %d carries at most a page", i+2)
		require.Zero(t, c.Result.Counts.InProgress, "a run hands over no running batch")
		require.Equal(t, "sha256:00", c.Plan.DocumentHash)
		require.Equal(t, 8, c.Planned)
	}
	require.Equal(t, in("r2", "n3", "n4", "n5"), next[0].Carry.Pending)
	require.Empty(t, next[1].Carry.Pending)
}

func TestExecutionCancelled(t *testing.T) {
	b := &batchRunner{}
	f := &fleet{pages: [][]contract.TargetRef{in(contract.DefaultRegion, "a", "b", "c"), in(contract.DefaultRegion, "d", "e")}}
	res, _ := runExecution(t, execInput("1", "0"), f, b, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(env.CancelWorkflow, batchDuration/2)
	})
	require.Equal(t, contract.StatusCancelled, res.Status)
	require.Equal(t, "cancelled: 0 of 5 targets succeeded", res.DetailedStatus)
	require.Equal(t, Counts{Total: 5, Cancelled: 5}, res.Counts)
	require.Equal(t, []string{"a", "b"}, failureIDs(res), "the running batch's nodes are cancelled")
	require.Equal(t, []NotRun{{Status: contract.StatusCancelled, DetailedStatus: "execution cancelled before the node ran", Count: 3, Nodes: []string{"c"}}}, res.NotRun)
	require.Len(t, f.asked, 1, "no page is resolved after cancellation")
}

func TestExecutionResultBounds(t *testing.T) {
	t.Run("failures kept", func(t *testing.T) {
		nodes := ids("n", maxFailuresKept+5)
		exits := map[string]int{}
		for _, id := range nodes {
			exits[id] = 1
		}
		b := &batchRunner{exits: exits}
		res, _ := runExecution(t, execInput("10", "100%"), onePage(in(contract.DefaultRegion, nodes...)), b)
		require.Equal(t, Counts{Total: len(nodes), Failed: len(nodes)}, res.Counts)
		require.Equal(t, nodes[:maxFailuresKept], failureIDs(res))
	})
	t.Run("nodes not run listed", func(t *testing.T) {
		nodes := ids("n", maxNotRunListed+5)
		b := &batchRunner{exits: map[string]int{nodes[0]: 1}}
		res, _ := runExecution(t, execInput("1", "0"), onePage(in(contract.DefaultRegion, nodes...)), b)
		require.Equal(t, Counts{Total: len(nodes), Failed: 1, Skipped: len(nodes) - 1}, res.Counts)
		require.Len(t, res.NotRun, 1)
		require.Equal(t, len(nodes)-1, res.NotRun[0].Count)
		require.Equal(t, nodes[1:maxNotRunListed+1], res.NotRun[0].Nodes)
	})
	t.Run("batches bounded", func(t *testing.T) {
		nodes := ids("n", maxBatchNodes+3)
		b := &batchRunner{}
		res, _ := runExecution(t, execInput("100%", "100%"), onePage(in(contract.DefaultRegion, nodes...)), b)
		require.Equal(t, contract.StatusSuccess, res.Status)
		require.Equal(t, [][]string{nodes[:maxBatchNodes], nodes[maxBatchNodes:]}, b.batchNodes())
		require.Equal(t, len(nodes), b.peakConcurrency())
	})
}

// endedResult is the result an ended execution left: a run whose targets
// all succeeded completes with it, a cancelled one is cancelled with it,
// and any other fails with it in its failure's details, under a message
// that says why and names the first failed nodes, so that Temporal's Web
// UI shows the run failed.
func endedResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) ExecutionResult {
	t.Helper()
	var res ExecutionResult
	err := env.GetWorkflowError()
	if err == nil {
		require.NoError(t, env.GetWorkflowResult(&res))
		require.Equal(t, contract.StatusSuccess, res.Status, "only a run whose targets all succeeded completes")
		return res
	}
	require.True(t, ExecutionResultOf(err, &res), "the failure carries the result: %v", err)
	require.NotEqual(t, contract.StatusSuccess, res.Status)
	if res.Status == contract.StatusCancelled {
		var canceled *temporal.CanceledError
		require.ErrorAs(t, err, &canceled)
		return res
	}
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, contract.FailureExecution, app.Type())
	require.True(t, app.NonRetryable(), "a failed run is not retried")
	require.True(t, strings.HasPrefix(app.Message(), res.DetailedStatus), "message %q starts with %q", app.Message(), res.DetailedStatus)
	for i, f := range res.Failures {
		if i < failedNodesNamed {
			require.Contains(t, app.Message(), f.NodeID+" "+f.Status)
		}
	}
	return res
}
