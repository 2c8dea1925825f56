package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/problems"
	"github.com/stead-io/stead/internal/ratecontrol"
	"github.com/stead-io/stead/internal/schedule"
	"github.com/stead-io/stead/internal/targets"
)

var acts *activities.Activities

func testPlan(steps ...documents.PlanStep) *documents.Plan {
	if len(steps) == 0 {
		steps = []documents.PlanStep{{Name: "runShellScript", Action: "aws:runShellScript", Shell: "sh", Script: "true", TimeoutSeconds: 60}}
	}
	return &documents.Plan{DocumentName: "Stead-RunShellScript", DocumentVersion: "1", DocumentHash: "sha256:00", Steps: steps}
}

func nodes(ids ...string) activities.ResolveResult {
	var r activities.ResolveResult
	for _, id := range ids {
		r.Nodes = append(r.Nodes, activities.TargetRef{NodeID: id, Platform: "linux"})
	}
	return r
}

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(ExecutionWorkflow)
	env.RegisterWorkflow(TargetWorkflow)
	env.RegisterActivity(&activities.Activities{})
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", contract.SignalCompliance, mock.Anything).Return(nil).Maybe()
	t.Cleanup(func() { env.AssertExpectations(t) })
	return env
}

func TestTargetReportsCompliance(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	var got []contract.ComplianceRecord
	env.OnSignalExternalWorkflow(mock.Anything, "node/n", "", contract.SignalCompliance, mock.Anything).Return(
		func(_, _, _, _ string, arg any) error {
			got = append(got, arg.(contract.ComplianceRecord))
			return nil
		})
	env.OnActivity(acts.RunStep, mock.Anything, mock.Anything).Return(activities.StepResult{ExitCode: 1}, nil)
	env.ExecuteWorkflow(TargetWorkflow, TargetInput{AssociationName: "patch", ExecutionID: "e9", ComplianceSeverity: "HIGH",
		Node: activities.TargetRef{NodeID: "n", Platform: "linux"}, Plan: *testPlan()})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, got, 1)
	require.Equal(t, "patch", got[0].Association)
	require.Equal(t, contract.NonCompliant, got[0].Status)
	require.Equal(t, "HIGH", got[0].Severity)
	require.Equal(t, "e9", got[0].ExecutionID)
}

func TestRecordCompliance(t *testing.T) {
	var rs []contract.ComplianceRecord
	rs = recordCompliance(rs, contract.ComplianceRecord{Association: "b", Status: contract.Compliant})
	rs = recordCompliance(rs, contract.ComplianceRecord{Association: "a", Status: contract.NonCompliant})
	rs = recordCompliance(rs, contract.ComplianceRecord{Association: "b", Status: contract.NonCompliant})
	require.Equal(t, []contract.ComplianceRecord{{Association: "a", Status: contract.NonCompliant}, {Association: "b", Status: contract.NonCompliant}}, rs)
}

func execInput(conc, maxErr string) ExecutionInput {
	c, _ := ratecontrol.Parse("c", conc, 1)
	e, _ := ratecontrol.Parse("e", maxErr, 0)
	return ExecutionInput{
		AssociationName: "web", ExecutionID: "e1", Reason: ReasonCreate,
		Spec: AssociationSpec{Name: "web", Document: "Stead-RunShellScript", MaxConcurrency: c, MaxErrors: e,
			Targets: []targets.Target{{Key: "InstanceIds", Values: []string{"*"}}}},
	}
}

// exitByNode answers RunStep with an exit code per node.
func exitByNode(codes map[string]int) func(context.Context, activities.RunStepInput) (activities.StepResult, error) {
	return func(_ context.Context, in activities.RunStepInput) (activities.StepResult, error) {
		return activities.StepResult{Step: in.Step.Name, ExitCode: codes[in.NodeID], Stdout: "out-" + in.NodeID}, nil
	}
}

func TestExecutionAllSucceed(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.PrepareDocument, mock.Anything, mock.Anything).Return(testPlan(), nil)
	env.OnActivity(acts.ResolveTargets, mock.Anything, mock.Anything).Return(nodes("a", "b", "c"), nil)
	env.OnActivity(acts.RunStep, mock.Anything, mock.Anything).Return(exitByNode(nil)).Times(3)
	env.ExecuteWorkflow(ExecutionWorkflow, execInput("2", "0"))
	require.NoError(t, env.GetWorkflowError())
	var res ExecutionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, contract.StatusSuccess, res.Status)
	require.Equal(t, Counts{Total: 3, Success: 3}, res.Counts)
	require.Equal(t, "sha256:00", res.DocumentHash)
	require.Equal(t, []string{"a", "b", "c"}, res.Dispatched)
	require.Empty(t, res.Failures)
	require.Empty(t, res.NotRun)
}

// runExecution runs an execution to its end across continue-as-new, the
// way the server would, and returns its result and the number of runs.
func runExecution(t *testing.T, in ExecutionInput, setup func(*testsuite.TestWorkflowEnvironment)) (ExecutionResult, int) {
	for runs := 1; runs <= 20; runs++ {
		env := newEnv(t)
		setup(env)
		env.ExecuteWorkflow(ExecutionWorkflow, in)
		var can *workflow.ContinueAsNewError
		if err := env.GetWorkflowError(); errors.As(err, &can) {
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
			require.NotNil(t, in.Carry)
			continue
		}
		var res ExecutionResult
		require.NoError(t, env.GetWorkflowResult(&res))
		return res, runs
	}
	t.Fatal("execution never ended")
	return ExecutionResult{}, 0
}

func TestExecutionContinuesAsNewAcrossBatches(t *testing.T) {
	defer func(n int) { maxTargetsPerRun = n }(maxTargetsPerRun)
	maxTargetsPerRun = 3
	ids := []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"}
	var mu sync.Mutex // the test environment runs activities concurrently
	ran := map[string]int{}
	res, runs := runExecution(t, execInput("2", "1"), func(env *testsuite.TestWorkflowEnvironment) {
		env.OnActivity(acts.PrepareDocument, mock.Anything, mock.Anything).Return(testPlan(), nil).Maybe()
		env.OnActivity(acts.ResolveTargets, mock.Anything, mock.Anything).Return(nodes(ids...), nil).Maybe()
		env.OnActivity(acts.RunStep, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RunStepInput) (activities.StepResult, error) {
			mu.Lock()
			ran[in.NodeID]++
			mu.Unlock()
			if in.NodeID == "n5" {
				return activities.StepResult{ExitCode: 4}, nil
			}
			return activities.StepResult{}, nil
		}).Maybe()
	})
	require.Equal(t, 3, runs, "8 targets in batches of 3")
	require.Equal(t, 3, res.Runs)
	require.Equal(t, ids, res.Dispatched)
	for _, id := range ids {
		require.Equal(t, 1, ran[id], id)
	}
	require.Equal(t, Counts{Total: 8, Success: 7, Failed: 1}, res.Counts)
	require.Len(t, res.Failures, 1)
	require.Equal(t, "n5", res.Failures[0].NodeID)
	require.Equal(t, contract.StatusFailed, res.Status)
}

func TestExecutionStopsAtMaxErrors(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.PrepareDocument, mock.Anything, mock.Anything).Return(testPlan(), nil)
	env.OnActivity(acts.ResolveTargets, mock.Anything, mock.Anything).Return(nodes("a", "b", "c", "d", "e"), nil)
	// Concurrency 1: a succeeds, b fails (1 error tolerated), c fails (2 > 1): stop.
	env.OnActivity(acts.RunStep, mock.Anything, mock.Anything).Return(exitByNode(map[string]int{"b": 1, "c": 2})).Times(3)
	env.ExecuteWorkflow(ExecutionWorkflow, execInput("1", "1"))
	var res ExecutionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, contract.StatusFailed, res.Status)
	require.Contains(t, res.DetailedStatus, "stopped after 2 errors (MaxErrors 1)")
	require.Equal(t, []string{"a", "b", "c"}, res.Dispatched)
	require.Equal(t, []NotRun{{Status: contract.StatusSkipped, DetailedStatus: "MaxErrors reached: not dispatched", Nodes: []string{"d", "e"}}}, res.NotRun)
	require.Len(t, res.Failures, 2)
	require.Equal(t, "b", res.Failures[0].NodeID)
	require.Equal(t, "c", res.Failures[1].NodeID)
	require.Equal(t, Counts{Total: 5, Success: 1, Failed: 2, Skipped: 2}, res.Counts)
}

func TestExecutionMissingAndUndeliverable(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.PrepareDocument, mock.Anything, mock.Anything).Return(testPlan(), nil)
	r := nodes("a", "b")
	r.Missing = []string{"ghost"}
	env.OnActivity(acts.ResolveTargets, mock.Anything, mock.Anything).Return(r, nil)
	env.OnActivity(acts.RunStep, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RunStepInput) (activities.StepResult, error) {
		if in.NodeID == "b" {
			return activities.StepResult{}, temporal.NewNonRetryableApplicationError("host key mismatch for b", activities.ErrHostKeyMismatch, nil)
		}
		return activities.StepResult{}, nil
	})
	env.ExecuteWorkflow(ExecutionWorkflow, execInput("10", "100%"))
	var res ExecutionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, contract.StatusFailed, res.Status)
	require.Equal(t, 2, res.Counts.Undeliverable)
	require.Equal(t, 1, res.Counts.Success)
	require.Len(t, res.Failures, 1)
	require.Contains(t, res.Failures[0].DetailedStatus, "HostKeyMismatch")
	require.Equal(t, []NotRun{{Status: contract.StatusUndeliverable, DetailedStatus: "node is not registered", Nodes: []string{"ghost"}}}, res.NotRun)
}

func TestExecutionBadDocumentFails(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.PrepareDocument, mock.Anything, mock.Anything).Return(nil,
		temporal.NewNonRetryableApplicationError("render document X: commands: required", activities.ErrInvalidDocument, nil))
	env.ExecuteWorkflow(ExecutionWorkflow, execInput("1", "0"))
	var res ExecutionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, contract.StatusFailed, res.Status)
	require.Contains(t, res.DetailedStatus, "commands: required")
}

func TestTargetSteps(t *testing.T) {
	steps := []documents.PlanStep{
		{Name: "win", Shell: "powershell", Platforms: []string{"windows"}, TimeoutSeconds: 60},
		{Name: "skipped", Shell: "sh", Skipped: true, SkipReason: "precondition false", TimeoutSeconds: 60},
		{Name: "first", Shell: "sh", TimeoutSeconds: 60},
		{Name: "stop", Shell: "sh", TimeoutSeconds: 60},
		{Name: "never", Shell: "sh", TimeoutSeconds: 60},
	}
	cases := []struct {
		name       string
		exits      map[string]int
		timedOut   bool
		wantStatus string
		wantSteps  []string
	}{
		{name: "168 ends as success", exits: map[string]int{"stop": 168}, wantStatus: contract.StatusSuccess,
			wantSteps: []string{contract.StatusSkipped, contract.StatusSkipped, contract.StatusSuccess, contract.StatusSuccess, contract.StatusSkipped}},
		{name: "169 ends as failed", exits: map[string]int{"stop": 169}, wantStatus: contract.StatusFailed,
			wantSteps: []string{contract.StatusSkipped, contract.StatusSkipped, contract.StatusSuccess, contract.StatusFailed, contract.StatusSkipped}},
		{name: "failure stops the document", exits: map[string]int{"first": 2}, wantStatus: contract.StatusFailed,
			wantSteps: []string{contract.StatusSkipped, contract.StatusSkipped, contract.StatusFailed, contract.StatusSkipped, contract.StatusSkipped}},
		{name: "timeout", timedOut: true, wantStatus: contract.StatusTimedOut,
			wantSteps: []string{contract.StatusSkipped, contract.StatusSkipped, contract.StatusTimedOut, contract.StatusSkipped, contract.StatusSkipped}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newEnv(t)
			env.OnActivity(acts.RunStep, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RunStepInput) (activities.StepResult, error) {
				require.Equal(t, "sh", in.Step.Shell, "only linux steps may run")
				return activities.StepResult{Step: in.Step.Name, ExitCode: c.exits[in.Step.Name], TimedOut: c.timedOut}, nil
			})
			env.ExecuteWorkflow(TargetWorkflow, TargetInput{AssociationName: "a", ExecutionID: "e", Node: activities.TargetRef{NodeID: "n", Platform: "linux"}, Plan: *testPlan(steps...)})
			var sum TargetSummary
			require.NoError(t, env.GetWorkflowResult(&sum))
			require.Equal(t, c.wantStatus, sum.Status)
			var got []string
			for _, s := range sum.Steps {
				got = append(got, s.Status)
			}
			require.Equal(t, c.wantSteps, got)
		})
	}
}

func TestTargetUnreachableRetriesThenUndeliverable(t *testing.T) {
	env := newEnv(t)
	calls := 0
	env.OnActivity(acts.RunStep, mock.Anything, mock.Anything).Return(func(context.Context, activities.RunStepInput) (activities.StepResult, error) {
		calls++
		return activities.StepResult{}, temporal.NewApplicationError("dial 127.0.0.9:22: connection refused", activities.ErrUnreachable)
	})
	env.ExecuteWorkflow(TargetWorkflow, TargetInput{Node: activities.TargetRef{NodeID: "n", Platform: "linux"}, Plan: *testPlan()})
	var sum TargetSummary
	require.NoError(t, env.GetWorkflowResult(&sum))
	require.Equal(t, contract.StatusUndeliverable, sum.Status)
	require.Equal(t, int(stepRetry.MaximumAttempts), calls)
}

func TestAssociationRunsOnScheduleAndDeletes(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(AssociationWorkflow)
	env.RegisterWorkflow(ExecutionWorkflow)
	runs := []string{}
	env.OnWorkflow(ExecutionWorkflow, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in ExecutionInput) (ExecutionResult, error) {
		runs = append(runs, in.Reason)
		return ExecutionResult{ExecutionID: in.ExecutionID, Status: contract.StatusSuccess, Counts: Counts{Total: 1, Success: 1}}, nil
	}).Maybe()
	env.RegisterActivity(&activities.Activities{})
	env.OnActivity(acts.CheckDocument, mock.Anything, mock.Anything).Return("Stead-RunShellScript", nil).Once()
	spec := validSpec()
	spec.Schedule = schedule.FromText("rate(30 minutes)", 0)
	var described AssociationState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(contract.AssociationQueryDescribe)
		require.NoError(t, err)
		require.NoError(t, v.Get(&described))
		env.UpdateWorkflow(contract.AssociationUpdateDelete, "del-1", &updateCallbacks{t: t}, DeleteRequest{By: "test"})
	}, 65*time.Minute)
	env.ExecuteWorkflow(AssociationWorkflow, CreateAssociationInput{Spec: spec, By: "test", ExecutionID: "first"}, (*AssociationState)(nil))
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{ReasonCreate, ReasonSched, ReasonSched}, runs)
	require.Len(t, described.Executions, 3)
	require.Equal(t, "first", described.Executions[0].ExecutionID)
	require.Equal(t, contract.StatusSuccess, described.Status)
}

// updateCallbacks fails the test if an update is rejected or errors.
type updateCallbacks struct{ t *testing.T }

func (u *updateCallbacks) Accept()          {}
func (u *updateCallbacks) Reject(err error) { u.t.Errorf("update rejected: %v", err) }
func (u *updateCallbacks) Complete(_ any, err error) {
	if err != nil {
		u.t.Errorf("update failed: %v", err)
	}
}

func TestFailureStatus(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{temporal.NewNonRetryableApplicationError("x", activities.ErrAuthFailed, nil), contract.StatusUndeliverable},
		{temporal.NewNonRetryableApplicationError("x", activities.ErrInvalidStep, nil), contract.StatusFailed},
		{temporal.NewCanceledError(), contract.StatusCancelled},
		{errors.New("boom"), contract.StatusFailed},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, _ := failureStatus(c.err)
			require.Equal(t, c.want, got)
		})
	}
}

// validSpec is a spec that passes Validate.
func validSpec() AssociationSpec {
	return AssociationSpec{Name: "web", Document: "AWS-RunShellScript", Parameters: map[string]any{"commands": "true"},
		Targets:        []targets.Target{{Key: targets.KeyInstanceIDs, Values: []string{"*"}}},
		MaxConcurrency: ratecontrol.FromText("50"), MaxErrors: ratecontrol.FromText("0"), ComplianceSeverity: "high"}
}

func TestValidateReportsEveryProblemOnOneLine(t *testing.T) {
	require.NoError(t, validSpec().Validate())
	bad := validSpec()
	bad.Name = "x"
	bad.Targets = nil
	bad.Schedule = schedule.FromText("cron(0 25 * * ? *)", 0)
	bad.MaxErrors = ratecontrol.FromText("abc")
	bad.ComplianceSeverity = "dire"
	bad.ApplyOnlyAtCronInterval = true
	err := bad.Validate()
	require.EqualError(t, err, `association name "x": want 3-128 letters, digits, '_', '.' or '-'; `+
		`no targets: give at least one --targets; cron(0 25 * * ? *): hours: 25 is out of range 0-23; `+
		`apply-only-at-cron-interval: needs a cron(...) schedule; max-errors "abc": want a whole number or a percentage like 10%; `+
		`compliance-severity "dire": want one of CRITICAL, HIGH, MEDIUM, LOW, UNSPECIFIED`)
	var p *problems.Error
	require.ErrorAs(t, err, &p)
	require.Equal(t, 6, p.Total)
	require.Len(t, p.Problems, 6)

	// Problems parsing found stand for a field's own checks.
	parsed := map[string][]error{FieldTargets: {errors.New(`targets "Key=x": missing ,Values=`)}, FieldParameters: {errors.New("parameters: bad JSON")}}
	bad = validSpec()
	bad.Targets, bad.Parameters = nil, nil
	require.EqualError(t, bad.ValidateParsed(parsed), `targets "Key=x": missing ,Values=; parameters: bad JSON`)
}

// TestAssociationRefusesInvalidSpec starts associations as any SDK client
// could, with input a client would have refused: they fail at once, with
// the client's message, before anything runs.
func TestAssociationRefusesInvalidSpec(t *testing.T) {
	badSchedule := validSpec()
	badSchedule.Schedule = schedule.FromText("rate(5 minutes)", 0)
	unknownDoc := validSpec()
	unknownDoc.Document = "Nope"
	const notFound = "document Nope not found (built-in documents: ...)"
	for _, tt := range []struct {
		name  string
		spec  AssociationSpec
		check string // what CheckDocument answers, "" for success
		want  string
	}{
		{"bad schedule", badSchedule, "", "rate(5 minutes): more frequent than the minimum of 30 minutes for associations"},
		{"unknown document", unknownDoc, notFound, notFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			env.RegisterWorkflow(AssociationWorkflow)
			env.RegisterActivity(&activities.Activities{})
			if tt.check != "" {
				env.OnActivity(acts.CheckDocument, mock.Anything, mock.Anything).Return("",
					temporal.NewNonRetryableApplicationError(tt.check, activities.ErrInvalidDocument, nil)).Once()
			}
			env.ExecuteWorkflow(AssociationWorkflow, CreateAssociationInput{Spec: tt.spec, By: "test", ExecutionID: "first"}, (*AssociationState)(nil))
			require.True(t, env.IsWorkflowCompleted())
			var app *temporal.ApplicationError
			require.ErrorAs(t, env.GetWorkflowError(), &app)
			require.Equal(t, contract.FailureInvalid, app.Type())
			require.True(t, app.NonRetryable())
			require.Equal(t, tt.want, app.Message())
			var p problems.Error
			require.NoError(t, app.Details(&p))
			require.Equal(t, tt.want, p.Error())
		})
	}
}

func TestAssociationUpdateIsValidated(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(AssociationWorkflow)
	env.RegisterWorkflow(ExecutionWorkflow)
	env.RegisterActivity(&activities.Activities{})
	env.OnActivity(acts.CheckDocument, mock.Anything, mock.Anything).Return("Stead-RunShellScript", nil).Once()
	env.OnWorkflow(ExecutionWorkflow, mock.Anything, mock.Anything).Return(ExecutionResult{Status: contract.StatusSuccess}, nil).Maybe()
	spec := validSpec()
	bad := spec
	bad.MaxErrors = ratecontrol.FromText("abc")
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(contract.AssociationUpdateUpdate, "bad", &testsuite.TestUpdateCallback{
			OnAccept: func() { t.Error("an invalid spec was accepted") },
			OnReject: func(err error) {
				var app *temporal.ApplicationError
				require.ErrorAs(t, err, &app)
				require.Equal(t, contract.FailureInvalid, app.Type())
				require.Equal(t, `max-errors "abc": want a whole number or a percentage like 10%`, app.Message())
			},
			OnComplete: func(any, error) {},
		}, UpdateRequest{Spec: bad, By: "test"})
		env.UpdateWorkflow(contract.AssociationUpdateUpdate, "stale", &testsuite.TestUpdateCallback{
			OnAccept: func() { t.Error("a stale update was accepted") },
			OnReject: func(err error) {
				var app *temporal.ApplicationError
				require.ErrorAs(t, err, &app)
				require.Equal(t, contract.FailureConflict, app.Type())
			},
			OnComplete: func(any, error) {},
		}, UpdateRequest{Spec: spec, ExpectedVersion: 7, By: "test"})
		env.UpdateWorkflow(contract.AssociationUpdateDelete, "del", &updateCallbacks{t: t}, DeleteRequest{By: "test"})
	}, time.Minute)
	env.ExecuteWorkflow(AssociationWorkflow, CreateAssociationInput{Spec: spec, By: "test", ExecutionID: "first"}, (*AssociationState)(nil))
	require.NoError(t, env.GetWorkflowError())
}

// An association answers queries and updates while the spec it was started
// with is checked, then stores the spec as checked (a built-in's canonical
// name, the severity in upper case).
func TestAssociationAnswersWhileItsSpecIsChecked(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(AssociationWorkflow)
	env.RegisterWorkflow(ExecutionWorkflow)
	env.RegisterActivity(&activities.Activities{})
	env.OnActivity(acts.CheckDocument, mock.Anything, mock.Anything).After(time.Minute).Return("Stead-RunShellScript", nil).Once()
	env.OnWorkflow(ExecutionWorkflow, mock.Anything, mock.Anything).Return(ExecutionResult{Status: contract.StatusSuccess}, nil).Maybe()
	describe := func() AssociationState {
		v, err := env.QueryWorkflow(contract.AssociationQueryDescribe)
		require.NoError(t, err)
		var st AssociationState
		require.NoError(t, v.Get(&st))
		return st
	}
	var during, after AssociationState
	env.RegisterDelayedCallback(func() { during = describe() }, 10*time.Second)
	env.RegisterDelayedCallback(func() {
		after = describe()
		env.UpdateWorkflow(contract.AssociationUpdateDelete, "del", &updateCallbacks{t: t}, DeleteRequest{By: "test"})
	}, 2*time.Minute)
	env.ExecuteWorkflow(AssociationWorkflow, CreateAssociationInput{Spec: validSpec(), By: "test", ExecutionID: "first"}, (*AssociationState)(nil))
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, contract.StatusPending, during.Status)
	require.Equal(t, "AWS-RunShellScript", during.Spec.Document)
	require.Equal(t, "Stead-RunShellScript", after.Spec.Document)
	require.Equal(t, "HIGH", after.Spec.ComplianceSeverity)
	require.Equal(t, "Stead-RunShellScript", after.Versions[0].Spec.Document)
}
