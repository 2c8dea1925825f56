package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/node"
)

// fakeNode is a fake of what a batch does on a node (nodeOps), for testing
// the flow control of runNode where no node runs: each operation answers
// with the test's function and records what it was asked for. An operation
// the test gave no function for fails the test.
type fakeNode struct {
	t         *testing.T
	clock     time.Time
	step      func(RunStepInput) (StepResult, error)
	reboot    func(RebootInput) (RebootResult, error)
	awaitBoot func(AwaitBootInput) (string, error)
	loadLocal func(LoadLocalDocumentInput) (LocalDocumentResult, error)
	// runIDs are the runs of steps, rebooted the runs that rebooted the
	// node, in order.
	runIDs, rebooted []string
	// sequences makes the fake node run sequences of steps as a runner
	// that can does: each step through step, going on after plain success
	// where allowed.
	sequences bool
	// sequenceRuns are the run ids of each sequence the fake was given.
	sequenceRuns [][]string
}

var errUnexpected = errors.New("unexpected operation")

func (f *fakeNode) now() time.Time { return f.clock }

func (f *fakeNode) runStepOn(_ context.Context, _ node.Node, in RunStepInput) (StepResult, error) {
	f.runIDs = append(f.runIDs, in.RunID)
	if f.step == nil {
		f.t.Errorf("unexpected run of step %s", in.Step.Name)
		return StepResult{}, errUnexpected
	}
	return f.step(in)
}

func (f *fakeNode) runStepsOn(ctx context.Context, n node.Node, ins []RunStepInput, cont []bool) []StepResult {
	if !f.sequences {
		return nil
	}
	var ids []string
	for _, in := range ins {
		ids = append(ids, in.RunID)
	}
	f.sequenceRuns = append(f.sequenceRuns, ids)
	var results []StepResult
	for i, in := range ins {
		res, err := f.runStepOn(ctx, n, in)
		if err != nil {
			break
		}
		results = append(results, res)
		if !cont[i] || res.ExitCode != 0 || res.TimedOut {
			break
		}
	}
	return results
}

func (f *fakeNode) rebootNodeOn(_ context.Context, _ node.Node, in RebootInput) (RebootResult, error) {
	f.rebooted = append(f.rebooted, in.RunID)
	if f.reboot == nil {
		f.t.Errorf("unexpected reboot by run %s", in.RunID)
		return RebootResult{}, errUnexpected
	}
	return f.reboot(in)
}

func (f *fakeNode) awaitBootOn(_ context.Context, _ node.Node, in AwaitBootInput) (string, error) {
	if f.awaitBoot == nil {
		f.t.Errorf("unexpected wait for node %s", in.NodeID)
		return "", errUnexpected
	}
	return f.awaitBoot(in)
}

func (f *fakeNode) loadLocalDocumentOn(_ context.Context, _ node.Node, in LoadLocalDocumentInput) (LocalDocumentResult, error) {
	if f.loadLocal == nil {
		f.t.Errorf("unexpected load of %s", in.Step.LocalDocument.Path)
		return LocalDocumentResult{}, errUnexpected
	}
	return f.loadLocal(in)
}

// run runs steps on node n1 of execution e1 through runNode.
func (f *fakeNode) run(ctx context.Context, platform string, steps ...documents.PlanStep) contract.TargetSummary {
	in := BatchInput{AssociationName: "web", ExecutionID: "e1", Plan: documents.Plan{DocumentName: "Stead-RunShellScript", Steps: steps}}
	return runNode(ctx, f, in, contract.TargetRef{NodeID: "n1", Platform: platform}, &node.Node{ID: "n1", Platform: platform}, batchOutputBytes)
}

var testClock = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func flowStep(name string, mutate ...func(*documents.PlanStep)) documents.PlanStep {
	s := documents.PlanStep{Name: name, Action: documents.ActionRunShellScript, Shell: "sh", Script: "x", TimeoutSeconds: 60, MaxAttempts: 1}
	for _, m := range mutate {
		m(&s)
	}
	return s
}

// stepsOf lists a node's steps as name#attempt=status/exit, the attempt
// only for steps that ran, a retried step's earlier attempts before it.
func stepsOf(sum contract.TargetSummary) string {
	var got []string
	for _, step := range sum.Steps {
		for _, s := range append(slices.Clone(step.Earlier), step) {
			got = append(got, stepOf(s))
		}
	}
	return strings.Join(got, " ")
}

// stepOf is one attempt of a step as name#attempt=status/exit.
func stepOf(s contract.StepSummary) string {
	name := s.Name
	if s.Attempt > 0 {
		name += fmt.Sprintf("#%d", s.Attempt)
	}
	return fmt.Sprintf("%s=%s/%d", name, s.Status, s.ExitCode)
}

func TestRunNodeStepFlow(t *testing.T) {
	onFailure := func(v string) func(*documents.PlanStep) { return func(s *documents.PlanStep) { s.OnFailure = v } }
	attempts := func(n int) func(*documents.PlanStep) { return func(s *documents.PlanStep) { s.MaxAttempts = n } }
	finally := func(s *documents.PlanStep) { s.FinallyStep = true }
	tests := []struct {
		name     string
		steps    []documents.PlanStep
		exits    map[string][]int // exit code of each run of a step, in order
		platform string
		status   string
		want     string // stepsOf the summary
		runIDs   []string
		detail   string
	}{
		{"failure exits", []documents.PlanStep{flowStep("a"), flowStep("b")}, map[string][]int{"a": {2}}, "linux", contract.StatusFailed,
			"a#1=Failed/2 b=Skipped/0", []string{"e1-n1-0"}, "step a: exit code 2"},
		{"continue", []documents.PlanStep{flowStep("a", onFailure("continue")), flowStep("b")}, map[string][]int{"a": {2}}, "linux", contract.StatusFailed,
			"a#1=Failed/2 b#1=Success/0", []string{"e1-n1-0", "e1-n1-1"}, "step a: exit code 2 (onFailure continue: later steps ran)"},
		{"successAndExit", []documents.PlanStep{flowStep("a", onFailure("successAndExit")), flowStep("b")}, map[string][]int{"a": {2}}, "linux", contract.StatusSuccess,
			"a#1=Failed/2 b=Skipped/0", []string{"e1-n1-0"}, ""},
		{"onSuccess exit", []documents.PlanStep{flowStep("a", func(s *documents.PlanStep) { s.OnSuccess = "exit" }), flowStep("b")}, nil, "linux", contract.StatusSuccess,
			"a#1=Success/0 b=Skipped/0", []string{"e1-n1-0"}, ""},
		{"finally runs after exit", []documents.PlanStep{flowStep("a"), flowStep("b"), flowStep("c", finally)}, map[string][]int{"a": {1}}, "linux", contract.StatusFailed,
			"a#1=Failed/1 b=Skipped/0 c#1=Success/0", []string{"e1-n1-0", "e1-n1-2"}, "step a: exit code 1"},
		{"168 stops as success", []documents.PlanStep{flowStep("a"), flowStep("b")}, map[string][]int{"a": {168}}, "linux", contract.StatusSuccess,
			"a#1=Success/168 b=Skipped/0", []string{"e1-n1-0"}, ""},
		{"169 stops as failed, no retry", []documents.PlanStep{flowStep("a", attempts(3)), flowStep("b")}, map[string][]int{"a": {169}}, "linux", contract.StatusFailed,
			"a#1=Failed/169 b=Skipped/0", []string{"e1-n1-0"}, "step a: exit code 169: document stopped as failed"},
		{"attempts until success", []documents.PlanStep{flowStep("a", attempts(3))}, map[string][]int{"a": {1, 1, 0}}, "linux", contract.StatusSuccess,
			"a#1=Failed/1 a#2=Failed/1 a#3=Success/0", []string{"e1-n1-0", "e1-n1-0-a2", "e1-n1-0-a3"}, ""},
		{"attempts exhausted", []documents.PlanStep{flowStep("a", attempts(2)), flowStep("b")}, map[string][]int{"a": {4, 5}}, "linux", contract.StatusFailed,
			"a#1=Failed/4 a#2=Failed/5 b=Skipped/0", []string{"e1-n1-0", "e1-n1-0-a2"}, "step a: exit code 5 (after 2 attempts)"},
		{"attempts, then continue", []documents.PlanStep{flowStep("a", attempts(2), onFailure("continue")), flowStep("b")}, map[string][]int{"a": {4, 5}}, "linux", contract.StatusFailed,
			"a#1=Failed/4 a#2=Failed/5 b#1=Success/0", []string{"e1-n1-0", "e1-n1-0-a2", "e1-n1-1"}, "step a: exit code 5 (after 2 attempts) (onFailure continue: later steps ran)"},
		{"reboot on linux", []documents.PlanStep{flowStep("a"), flowStep("b")}, map[string][]int{"a": {194}}, "linux", contract.StatusSuccess,
			"a#1=Success/194 b#1=Success/0", []string{"e1-n1-0", "e1-n1-1"}, ""},
		{"reboot never back", []documents.PlanStep{flowStep("a"), flowStep("b")}, map[string][]int{"a": {194}}, "linux", contract.StatusTimedOut,
			"a#1=TimedOut/194 b=Skipped/0", []string{"e1-n1-0"}, "step a: rebooted (exit code 194) but the node was not back within 1m0s"},
		{"3010 is a failure on linux", []documents.PlanStep{flowStep("a")}, map[string][]int{"a": {3010}}, "linux", contract.StatusFailed,
			"a#1=Failed/3010", []string{"e1-n1-0"}, "step a: exit code 3010"},
		{"reboot on windows", []documents.PlanStep{flowStep("a")}, map[string][]int{"a": {3010}}, "windows", contract.StatusSuccess,
			"a#1=Success/3010", []string{"e1-n1-0"}, ""},
		{"refused step", []documents.PlanStep{flowStep("a", func(s *documents.PlanStep) { s.Refused = "sourceType GitHub is not supported" }), flowStep("b")}, nil, "linux", contract.StatusFailed,
			"a=Failed/-1 b=Skipped/0", nil, "step a: sourceType GitHub is not supported"},
	}
	for _, tt := range tests {
		// Each case twice: step by step, and with the node running
		// sequences of plain steps in one session, which must not change
		// what runs or how the document ends.
		for _, sequences := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sequences=%v", tt.name, sequences), func(t *testing.T) {
				runs := map[string]int{}
				f := &fakeNode{t: t, clock: testClock, sequences: sequences}
				f.step = func(in RunStepInput) (StepResult, error) {
					require.Equal(t, "web", in.AssociationName)
					require.Equal(t, "e1", in.ExecutionID)
					require.Equal(t, "n1", in.NodeID)
					codes := tt.exits[in.Step.Name]
					code := 0
					if n := runs[in.Step.Name]; n < len(codes) {
						code = codes[n]
					}
					runs[in.Step.Name]++
					return StepResult{Step: in.Step.Name, ExitCode: code}, nil
				}
				f.reboot = func(RebootInput) (RebootResult, error) {
					return RebootResult{BootID: "boot-1", TimeoutSeconds: 60}, nil
				}
				f.awaitBoot = func(in AwaitBootInput) (string, error) {
					require.Equal(t, "boot-1", in.BootID)
					require.Equal(t, testClock.Add(time.Minute), in.Until, "the node has its reboot timeout to come back")
					if tt.name == "reboot never back" {
						return "", temporal.NewNonRetryableApplicationError("not back", ErrRebootTimedOut, nil)
					}
					return "boot-2", nil
				}
				sum := f.run(context.Background(), tt.platform, tt.steps...)
				require.Equal(t, tt.status, sum.Status, sum.DetailedStatus)
				require.Equal(t, tt.want, stepsOf(sum))
				require.Equal(t, tt.runIDs, f.runIDs)
				require.Equal(t, tt.detail, sum.DetailedStatus)
				require.Equal(t, "n1", sum.NodeID)
				require.Equal(t, testClock, sum.StartedAt)
				require.Equal(t, testClock, sum.EndedAt)
				if strings.HasPrefix(tt.name, "reboot") {
					require.Equal(t, []string{"e1-n1-0"}, f.rebooted, "the node reboots once, after the step that asked")
				} else {
					require.Empty(t, f.rebooted)
				}
				if tt.name == "reboot on linux" {
					require.Equal(t, "rebooted (exit code 194): boot id boot-1, then boot-2", sum.Steps[0].DetailedStatus)
				}
			})
		}
	}
}

// TestRunNodeLocalDocument checks that an aws:runDocument LocalPath step is
// replaced, when reached, by the steps its file renders into, and that a
// file that cannot run fails the step alone, with onFailure deciding what
// follows.
func TestRunNodeLocalDocument(t *testing.T) {
	local := func(name, path, onFailure string) documents.PlanStep {
		return documents.PlanStep{Name: name, Action: documents.ActionRunDocument, MaxAttempts: 1, TimeoutSeconds: 3600, OnFailure: onFailure,
			LocalDocument: &documents.LocalDocument{Path: path, Parameters: `{}`, Chain: []string{"top"}}}
	}
	tests := []struct {
		name   string
		steps  []documents.PlanStep
		status string
		want   string
		runIDs []string
		detail string
	}{
		{"expanded in place", []documents.PlanStep{flowStep("fetch"), local("run", "doc.json", ""), flowStep("after")}, contract.StatusSuccess,
			"fetch#1=Success/0 run.one#1=Success/0 run.two#1=Success/0 after#1=Success/0",
			[]string{"e1-n1-0", "e1-n1-1.0", "e1-n1-1.1", "e1-n1-2"}, ""},
		{"missing file fails the step", []documents.PlanStep{flowStep("fetch"), local("run", "gone.json", ""), flowStep("after")}, contract.StatusFailed,
			"fetch#1=Success/0 run=Failed/-1 after=Skipped/0",
			[]string{"e1-n1-0"}, "step run: documentPath gone.json (relative to the login's home): no such file on node n1"},
		{"missing file with continue", []documents.PlanStep{local("run", "gone.json", "continue"), flowStep("after")}, contract.StatusFailed,
			"run=Failed/-1 after#1=Success/0",
			[]string{"e1-n1-1"}, "step run: documentPath gone.json (relative to the login's home): no such file on node n1 (onFailure continue: later steps ran)"},
		{"finally local document", []documents.PlanStep{flowStep("fail"), flowStep("skipped"), func() documents.PlanStep {
			s := local("run", "doc.json", "")
			s.FinallyStep = true
			return s
		}()}, contract.StatusFailed,
			"fail#1=Failed/1 skipped=Skipped/0 run.one#1=Success/0 run.two#1=Success/0",
			[]string{"e1-n1-0", "e1-n1-2.0", "e1-n1-2.1"}, "step fail: exit code 1"},
		{"nested local document", []documents.PlanStep{local("run", "outer.json", "")}, contract.StatusSuccess,
			"run.inner.one#1=Success/0 run.inner.two#1=Success/0",
			[]string{"e1-n1-0.0.0", "e1-n1-0.0.1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeNode{t: t, clock: testClock}
			f.step = func(in RunStepInput) (StepResult, error) {
				if in.Step.Name == "fail" {
					return StepResult{Step: in.Step.Name, ExitCode: 1}, nil
				}
				return StepResult{Step: in.Step.Name}, nil
			}
			f.loadLocal = func(in LoadLocalDocumentInput) (LocalDocumentResult, error) {
				parent := in.Step.Name
				switch in.Step.LocalDocument.Path {
				case "doc.json":
					finally := func(s *documents.PlanStep) { s.FinallyStep = in.Step.FinallyStep }
					return LocalDocumentResult{Path: "doc.json", Steps: []documents.PlanStep{flowStep(parent+".one", finally), flowStep(parent+".two", finally)}}, nil
				case "outer.json":
					inner := local(parent+".inner", "doc.json", "")
					inner.LocalDocument.Chain = []string{"top", "LocalPath:outer.json"}
					return LocalDocumentResult{Path: "outer.json", Steps: []documents.PlanStep{inner}}, nil
				}
				return LocalDocumentResult{}, temporal.NewNonRetryableApplicationError(
					"documentPath "+in.Step.LocalDocument.Path+" (relative to the login's home): no such file on node "+in.NodeID, ErrLocalDocument, nil)
			}
			sum := f.run(context.Background(), "linux", tt.steps...)
			require.Equal(t, tt.status, sum.Status, sum.DetailedStatus)
			require.Equal(t, tt.want, stepsOf(sum))
			require.Equal(t, tt.runIDs, f.runIDs)
			require.Equal(t, tt.detail, sum.DetailedStatus)
		})
	}
}

func TestRunNodeSteps(t *testing.T) {
	steps := []documents.PlanStep{
		{Name: "win", Shell: "powershell", Platforms: []string{"windows"}, TimeoutSeconds: 60},
		{Name: "skipped", Shell: "sh", Skipped: true, SkipReason: "precondition false", TimeoutSeconds: 60},
		{Name: "first", Shell: "sh", TimeoutSeconds: 60},
		{Name: "stop", Shell: "sh", TimeoutSeconds: 60},
		{Name: "never", Shell: "sh", TimeoutSeconds: 60},
	}
	cases := []struct {
		name     string
		exits    map[string]int
		timedOut bool
		status   string
		want     string
		detail   string
	}{
		{name: "168 ends as success", exits: map[string]int{"stop": 168}, status: contract.StatusSuccess,
			want: "win=Skipped/0 skipped=Skipped/0 first#1=Success/0 stop#1=Success/168 never=Skipped/0"},
		{name: "169 ends as failed", exits: map[string]int{"stop": 169}, status: contract.StatusFailed,
			want:   "win=Skipped/0 skipped=Skipped/0 first#1=Success/0 stop#1=Failed/169 never=Skipped/0",
			detail: "step stop: exit code 169: document stopped as failed"},
		{name: "failure stops the document", exits: map[string]int{"first": 2}, status: contract.StatusFailed,
			want:   "win=Skipped/0 skipped=Skipped/0 first#1=Failed/2 stop=Skipped/0 never=Skipped/0",
			detail: "step first: exit code 2"},
		{name: "timeout", timedOut: true, status: contract.StatusTimedOut,
			want:   "win=Skipped/0 skipped=Skipped/0 first#1=TimedOut/0 stop=Skipped/0 never=Skipped/0",
			detail: "step first: timed out after 1m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeNode{t: t, clock: testClock}
			f.step = func(in RunStepInput) (StepResult, error) {
				require.Equal(t, "sh", in.Step.Shell, "only linux steps may run")
				return StepResult{Step: in.Step.Name, ExitCode: c.exits[in.Step.Name], TimedOut: c.timedOut}, nil
			}
			sum := f.run(context.Background(), "linux", steps...)
			require.Equal(t, c.status, sum.Status)
			require.Equal(t, c.want, stepsOf(sum))
			require.Equal(t, c.detail, sum.DetailedStatus)
			require.Equal(t, "precondition: platform linux is not [windows]", sum.Steps[0].DetailedStatus)
			require.Equal(t, "precondition false", sum.Steps[1].DetailedStatus)
		})
	}
}

// shortDeliveryBackoff makes retried deliveries quick for one test.
func shortDeliveryBackoff(t *testing.T) {
	saved := deliveryBackoff
	t.Cleanup(func() { deliveryBackoff = saved })
	deliveryBackoff = time.Millisecond
}

func TestRunNodeUnreachableRetriesThenUndeliverable(t *testing.T) {
	shortDeliveryBackoff(t)
	f := &fakeNode{t: t, clock: testClock}
	f.step = func(RunStepInput) (StepResult, error) {
		return StepResult{}, temporal.NewApplicationError("dial 127.0.0.9:22: connection refused", ErrUnreachable)
	}
	// maxAttempts is for steps that fail on the node, not for a node that
	// cannot be reached: that has its delivery retries alone. A node that
	// cannot be reached ends everything, the finally step too.
	sum := f.run(context.Background(), "linux", flowStep("a", func(s *documents.PlanStep) { s.MaxAttempts = 3 }), flowStep("b", func(s *documents.PlanStep) { s.FinallyStep = true }))
	require.Equal(t, contract.StatusUndeliverable, sum.Status)
	require.Equal(t, "step a: Unreachable: dial 127.0.0.9:22: connection refused", sum.DetailedStatus)
	require.Equal(t, "a#1=Undeliverable/-1 b=Skipped/0", stepsOf(sum))
	require.Equal(t, -1, sum.ExitCode)
	require.Len(t, f.runIDs, deliveryRetries)
	for _, id := range f.runIDs {
		require.Equal(t, "e1-n1-0", id, "a delivery retry is the same run")
	}
}

func TestRunNodeDeliveryGivesUp(t *testing.T) {
	shortDeliveryBackoff(t)
	t.Run("non-retryable failure", func(t *testing.T) {
		f := &fakeNode{t: t, clock: testClock}
		f.step = func(RunStepInput) (StepResult, error) {
			return StepResult{}, temporal.NewNonRetryableApplicationError("host key mismatch for n1", ErrHostKeyMismatch, nil)
		}
		sum := f.run(context.Background(), "linux", flowStep("a"))
		require.Equal(t, contract.StatusUndeliverable, sum.Status)
		require.Equal(t, "step a: HostKeyMismatch: host key mismatch for n1", sum.DetailedStatus)
		require.Len(t, f.runIDs, 1)
	})
	t.Run("transient failure, then delivered", func(t *testing.T) {
		f := &fakeNode{t: t, clock: testClock}
		f.step = func(RunStepInput) (StepResult, error) {
			if len(f.runIDs) < 3 {
				return StepResult{}, temporal.NewApplicationError("connection reset", ErrUnreachable)
			}
			return StepResult{Stdout: "ok"}, nil
		}
		sum := f.run(context.Background(), "linux", flowStep("a"))
		require.Equal(t, contract.StatusSuccess, sum.Status, sum.DetailedStatus)
		require.Equal(t, "a#1=Success/0", stepsOf(sum))
		require.Equal(t, "ok", sum.Steps[0].Stdout)
		require.Len(t, f.runIDs, 3)
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		f := &fakeNode{t: t, clock: testClock}
		f.step = func(RunStepInput) (StepResult, error) {
			cancel()
			return StepResult{}, temporal.NewApplicationError("connection reset", ErrUnreachable)
		}
		sum := f.run(ctx, "linux", flowStep("a"), flowStep("b", func(s *documents.PlanStep) { s.FinallyStep = true }))
		require.Equal(t, contract.StatusCancelled, sum.Status)
		require.Equal(t, "a#1=Cancelled/-1 b=Skipped/0", stepsOf(sum))
		require.Len(t, f.runIDs, 1, "no delivery retry after cancellation")
	})
}

func TestRunNodeNotRegistered(t *testing.T) {
	f := &fakeNode{t: t, clock: testClock}
	sum := runNode(context.Background(), f, BatchInput{ExecutionID: "e1", Plan: documents.Plan{Steps: []documents.PlanStep{flowStep("a")}}},
		contract.TargetRef{NodeID: "gone", Platform: "linux"}, nil, batchOutputBytes)
	require.Equal(t, contract.StatusUndeliverable, sum.Status)
	require.Equal(t, "NodeNotFound: node gone is not registered", sum.DetailedStatus)
	require.Empty(t, sum.Steps)
	require.Empty(t, f.runIDs)
}

func TestRunNodeOutputShare(t *testing.T) {
	f := &fakeNode{t: t, clock: testClock}
	f.step = func(RunStepInput) (StepResult, error) {
		return StepResult{Stdout: "0123456789", Stderr: "abcdef"}, nil
	}
	in := BatchInput{ExecutionID: "e1", Plan: documents.Plan{Steps: []documents.PlanStep{flowStep("a")}}}
	for _, c := range []struct {
		share          int
		stdout, stderr string
		truncated      bool
	}{
		{16, "0123456789", "abcdef", false},
		{12, "0123456789", "ab", true},
		{4, "0123", "", true},
	} {
		sum := runNode(context.Background(), f, in, contract.TargetRef{NodeID: "n1"}, &node.Node{ID: "n1", Platform: "linux"}, c.share)
		s := sum.Steps[0]
		require.Equal(t, c.stdout, s.Stdout, "share %d", c.share)
		require.Equal(t, c.stderr, s.Stderr, "share %d", c.share)
		require.Equal(t, c.truncated, s.StdoutTruncated || s.StderrTruncated, "share %d", c.share)
	}
}

func refs(ids ...string) []contract.TargetRef {
	out := make([]contract.TargetRef, len(ids))
	for i, id := range ids {
		out[i] = contract.TargetRef{NodeID: id, Platform: "linux"}
	}
	return out
}

func nodeIDs(sums []contract.TargetSummary) []string {
	var ids []string
	for _, s := range sums {
		ids = append(ids, s.NodeID)
	}
	return ids
}

func TestRunBatchConcurrency(t *testing.T) {
	ids := []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"}
	for _, conc := range []int{0, 1, 3, 8, 20} {
		t.Run(fmt.Sprint(conc), func(t *testing.T) {
			want := min(max(1, conc), len(ids))
			var (
				mu              sync.Mutex
				inFlight, most  int
				full            = make(chan struct{})
				ran             []string
				closeFullOnce   sync.Once
				unblockedByTime bool
			)
			res, failures := runBatch(context.Background(), BatchInput{Nodes: refs(ids...), Concurrency: conc, AllowFailures: -1}, func(r contract.TargetRef) contract.TargetSummary {
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				ran = append(ran, r.NodeID)
				if inFlight == want {
					closeFullOnce.Do(func() { close(full) })
				}
				mu.Unlock()
				// The first nodes wait until the batch is as busy as it may
				// be, so the test sees it get there.
				select {
				case <-full:
				case <-time.After(10 * time.Second):
					mu.Lock()
					unblockedByTime = true
					mu.Unlock()
				}
				mu.Lock()
				inFlight--
				mu.Unlock()
				return contract.TargetSummary{NodeID: r.NodeID, Status: contract.StatusSuccess}
			})
			require.False(t, unblockedByTime, "the batch never ran %d nodes at once", want)
			require.Equal(t, want, most, "most nodes in flight")
			if want == 1 {
				require.Equal(t, ids, ran, "one at a time, nodes run in order")
			} else {
				require.ElementsMatch(t, ids, ran)
			}
			require.Equal(t, ids, nodeIDs(res.Nodes))
			require.Empty(t, res.NotStarted)
			require.Zero(t, failures)
		})
	}
}

func TestRunBatchAllowFailures(t *testing.T) {
	status := map[string]string{
		"a": contract.StatusSuccess, "b": contract.StatusFailed, "c": contract.StatusCancelled, "d": contract.StatusUndeliverable,
		"e": contract.StatusSkipped, "f": contract.StatusTimedOut, "g": contract.StatusDeliveryTimedOut, "h": contract.StatusSuccess,
	}
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	cases := []struct {
		allow      int
		ran        []string
		notStarted []string
		failures   int
	}{
		{0, []string{"a", "b"}, []string{"c", "d", "e", "f", "g", "h"}, 1},
		{1, []string{"a", "b", "c", "d"}, []string{"e", "f", "g", "h"}, 2},
		{2, []string{"a", "b", "c", "d", "e", "f"}, []string{"g", "h"}, 3},
		{3, []string{"a", "b", "c", "d", "e", "f", "g"}, []string{"h"}, 4},
		{4, ids, nil, 4},
		{-1, ids, nil, 4},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.allow), func(t *testing.T) {
			var ran []string
			res, failures := runBatch(context.Background(), BatchInput{Nodes: refs(ids...), Concurrency: 1, AllowFailures: c.allow}, func(r contract.TargetRef) contract.TargetSummary {
				ran = append(ran, r.NodeID)
				return contract.TargetSummary{NodeID: r.NodeID, Status: status[r.NodeID]}
			})
			require.Equal(t, c.ran, ran)
			require.Equal(t, c.ran, nodeIDs(res.Nodes))
			for _, s := range res.Nodes {
				require.Equal(t, status[s.NodeID], s.Status)
			}
			require.Equal(t, c.notStarted, res.NotStarted)
			require.Equal(t, c.failures, failures)
		})
	}
}

// TestRunBatchFailuresInFlight checks that nodes already running when the
// allowance runs out finish and are reported, and that the failures of nodes
// running at once all count.
func TestRunBatchFailuresInFlight(t *testing.T) {
	both := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	started := 0
	res, failures := runBatch(context.Background(), BatchInput{Nodes: refs("a", "b", "c", "d"), Concurrency: 2, AllowFailures: 0}, func(r contract.TargetRef) contract.TargetSummary {
		mu.Lock()
		started++
		if started == 2 {
			once.Do(func() { close(both) })
		}
		mu.Unlock()
		select {
		case <-both:
		case <-time.After(10 * time.Second):
			t.Error("a and b never ran at once")
		}
		return contract.TargetSummary{NodeID: r.NodeID, Status: contract.StatusFailed, ExitCode: 1}
	})
	require.Equal(t, []string{"a", "b"}, nodeIDs(res.Nodes))
	require.Equal(t, []string{"c", "d"}, res.NotStarted)
	require.Equal(t, 2, failures)
}

func TestRunBatchCancelled(t *testing.T) {
	t.Run("while running", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var ran []string
		res, _ := runBatch(ctx, BatchInput{Nodes: refs("a", "b", "c", "d"), Concurrency: 1, AllowFailures: -1}, func(r contract.TargetRef) contract.TargetSummary {
			ran = append(ran, r.NodeID)
			if r.NodeID == "b" {
				cancel()
				return contract.TargetSummary{NodeID: r.NodeID, Status: contract.StatusCancelled}
			}
			return contract.TargetSummary{NodeID: r.NodeID, Status: contract.StatusSuccess}
		})
		require.Equal(t, []string{"a", "b"}, ran)
		require.Equal(t, []string{"a", "b"}, nodeIDs(res.Nodes))
		require.Equal(t, contract.StatusCancelled, res.Nodes[1].Status)
		require.Equal(t, []string{"c", "d"}, res.NotStarted)
	})
	t.Run("before it started", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, failures := runBatch(ctx, BatchInput{Nodes: refs("a", "b"), Concurrency: 2, AllowFailures: -1}, func(r contract.TargetRef) contract.TargetSummary {
			t.Errorf("node %s started after cancellation", r.NodeID)
			return contract.TargetSummary{}
		})
		require.Empty(t, res.Nodes)
		require.Equal(t, []string{"a", "b"}, res.NotStarted)
		require.Zero(t, failures)
	})
}

// fakeSignals is a fake Temporal client that records the signals sent
// through it and answers them with err, and describes every workflow as
// described (not found when nil); every other method is absent.
type fakeSignals struct {
	client.Client
	err       error
	described *workflowservice.DescribeWorkflowExecutionResponse
	mu        sync.Mutex
	sent      []sentSignal
}

func (f *fakeSignals) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	if f.described == nil {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	return f.described, nil
}

type sentSignal struct {
	workflowID, runID, name string
	record                  contract.ComplianceRecord
}

func (f *fakeSignals) SignalWorkflow(_ context.Context, workflowID, runID, name string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, _ := arg.(contract.ComplianceRecord)
	f.sent = append(f.sent, sentSignal{workflowID, runID, name, r})
	return f.err
}

func TestReportCompliance(t *testing.T) {
	started := testClock
	in := BatchInput{AssociationName: "patch", ExecutionID: "e9", ComplianceSeverity: "HIGH"}
	cases := []struct {
		name     string
		in       BatchInput
		status   string
		want     string
		severity string
	}{
		{"failed", in, contract.StatusFailed, contract.NonCompliant, "HIGH"},
		{"undeliverable", in, contract.StatusUndeliverable, contract.NonCompliant, "HIGH"},
		{"succeeded", in, contract.StatusSuccess, contract.Compliant, "HIGH"},
		{"no severity", BatchInput{AssociationName: "patch", ExecutionID: "e9"}, contract.StatusSuccess, contract.Compliant, "UNSPECIFIED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeSignals{}
			a := &Activities{Client: f}
			a.reportCompliance(context.Background(), c.in, contract.TargetSummary{NodeID: "n", Status: c.status, StartedAt: started}, nil)
			require.Equal(t, []sentSignal{{
				workflowID: contract.NodeWorkflowID("n"), name: contract.SignalCompliance,
				record: contract.ComplianceRecord{Association: "patch", Status: c.want, Severity: c.severity, ExecutionID: "e9", At: started},
			}}, f.sent)
		})
	}
	t.Run("cancelled batch", func(t *testing.T) {
		f := &fakeSignals{}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		(&Activities{Client: f}).reportCompliance(ctx, in, contract.TargetSummary{NodeID: "n", Status: contract.StatusCancelled}, nil)
		require.Empty(t, f.sent, "a node whose run was cancelled keeps its compliance")
	})
	t.Run("unchanged", func(t *testing.T) {
		// A run that leaves the node as it was writes nothing to it, once
		// the node workflow itself confirms what the listing showed.
		was := contract.ComplianceRecord{Association: "patch", Status: contract.Compliant, Severity: "HIGH", ExecutionID: "e1", At: started.Add(-time.Hour)}
		other := contract.ComplianceRecord{Association: "web", Status: contract.NonCompliant, Severity: "LOW"}
		now := contract.ComplianceRecord{Association: "patch", Status: contract.Compliant, Severity: "HIGH", ExecutionID: "e9", At: started}
		sum := contract.TargetSummary{NodeID: "n", Status: contract.StatusSuccess, StartedAt: started}
		describe := func(pending bool, records ...contract.ComplianceRecord) *workflowservice.DescribeWorkflowExecutionResponse {
			p, err := converter.GetDefaultDataConverter().ToPayload(records)
			require.NoError(t, err)
			d := &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
				Memo: &commonpb.Memo{Fields: map[string]*commonpb.Payload{contract.ComplianceMemoKey: p}},
			}}
			if pending {
				d.PendingWorkflowTask = &workflowpb.PendingWorkflowTaskInfo{}
			}
			return d
		}
		changed := contract.ComplianceRecord{Association: "patch", Status: contract.NonCompliant, Severity: "HIGH", ExecutionID: "e5"}
		cases := []struct {
			name      string
			described *workflowservice.DescribeWorkflowExecutionResponse
			signalled bool
		}{
			{"confirmed", describe(false, other, was), false},
			{"listing lags a change", describe(false, other, changed), true},
			{"signal waiting for the node", describe(true, was), true},
			{"record gone", describe(false, other), true},
			{"describe fails", nil, true},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f := &fakeSignals{described: c.described}
				(&Activities{Client: f}).reportCompliance(context.Background(), in, sum, &was)
				if c.signalled {
					require.Equal(t, []sentSignal{{workflowID: contract.NodeWorkflowID("n"), name: contract.SignalCompliance, record: now}}, f.sent)
				} else {
					require.Empty(t, f.sent)
				}
			})
		}
		t.Run("severity changed", func(t *testing.T) {
			low := was
			low.Severity = "LOW"
			f := &fakeSignals{described: describe(false, low)}
			(&Activities{Client: f}).reportCompliance(context.Background(), in, sum, &low)
			require.Len(t, f.sent, 1)
		})
	})
	t.Run("signal fails", func(t *testing.T) {
		// A node deregistered meanwhile has no workflow to signal: that is
		// logged, and the activity goes on.
		f := &fakeSignals{err: errors.New("workflow not found")}
		a := &Activities{Client: f}
		report := func(ctx context.Context) error {
			a.reportCompliance(ctx, in, contract.TargetSummary{NodeID: "n", Status: contract.StatusSuccess}, nil)
			return nil
		}
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(report)
		_, err := env.ExecuteActivity(report)
		require.NoError(t, err)
		require.Len(t, f.sent, 1)
	})
}

// TestRunNodeSequencesPlainSteps runs a document's plain steps in one
// sequence, stops a sequence before a step that is not plain and after
// onSuccess exit, and runs what the sequence handed back on its own.
func TestRunNodeSequencesPlainSteps(t *testing.T) {
	f := &fakeNode{t: t, clock: testClock, sequences: true}
	f.step = func(in RunStepInput) (StepResult, error) {
		if in.Step.Name == "b" {
			return StepResult{Step: in.Step.Name, ExitCode: 1}, nil
		}
		return StepResult{Step: in.Step.Name}, nil
	}
	continueOnFailure := func(s *documents.PlanStep) { s.OnFailure = "continue" }
	exitOnSuccess := func(s *documents.PlanStep) { s.OnSuccess = "exit" }
	sum := f.run(context.Background(), "linux", flowStep("a"), flowStep("b", continueOnFailure), flowStep("c"), flowStep("d", exitOnSuccess), flowStep("e"))
	require.Equal(t, "a#1=Success/0 b#1=Failed/1 c#1=Success/0 d#1=Success/0 e=Skipped/0", stepsOf(sum))
	require.Equal(t, [][]string{{"e1-n1-0", "e1-n1-1", "e1-n1-2", "e1-n1-3"}, {"e1-n1-2", "e1-n1-3"}}, f.sequenceRuns,
		"b's failure hands back; onSuccess exit ends the sequence at d")
	require.Equal(t, []string{"e1-n1-0", "e1-n1-1", "e1-n1-2", "e1-n1-3"}, f.runIDs, "each step ran once")

	// A step that is not plain (downloadContent) runs on its own.
	f = &fakeNode{t: t, clock: testClock, sequences: true}
	f.step = func(in RunStepInput) (StepResult, error) { return StepResult{Step: in.Step.Name}, nil }
	download := func(s *documents.PlanStep) { s.Download = &documents.Download{} }
	sum = f.run(context.Background(), "linux", flowStep("a", download), flowStep("b"), flowStep("c"))
	require.Equal(t, "a#1=Success/0 b#1=Success/0 c#1=Success/0", stepsOf(sum))
	require.Equal(t, [][]string{{"e1-n1-1", "e1-n1-2"}}, f.sequenceRuns)

	// A step the worker must start itself ends the sequence before it and
	// starts the next one.
	f = &fakeNode{t: t, clock: testClock, sequences: true}
	f.step = func(in RunStepInput) (StepResult, error) { return StepResult{Step: in.Step.Name}, nil }
	byWorker := func(s *documents.PlanStep) { s.StartedByWorker = true }
	sum = f.run(context.Background(), "linux", flowStep("a"), flowStep("b"), flowStep("c", byWorker), flowStep("d"))
	require.Equal(t, "a#1=Success/0 b#1=Success/0 c#1=Success/0 d#1=Success/0", stepsOf(sum))
	require.Equal(t, [][]string{{"e1-n1-0", "e1-n1-1", "e1-n1-2", "e1-n1-3"}, {"e1-n1-2", "e1-n1-3"}}, f.sequenceRuns,
		"the node hands back after b; the worker starts c")
	require.Equal(t, []string{"e1-n1-0", "e1-n1-1", "e1-n1-2", "e1-n1-3"}, f.runIDs, "each step ran once")
}
