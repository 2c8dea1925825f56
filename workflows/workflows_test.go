package workflows

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/problems"
	"github.com/stead-io/stead/internal/ratecontrol"
	"github.com/stead-io/stead/internal/schedule"
	"github.com/stead-io/stead/internal/targets"
)

func TestRecordCompliance(t *testing.T) {
	var rs []contract.ComplianceRecord
	rs = recordCompliance(rs, contract.ComplianceRecord{Association: "b", Status: contract.Compliant})
	rs = recordCompliance(rs, contract.ComplianceRecord{Association: "a", Status: contract.NonCompliant})
	rs = recordCompliance(rs, contract.ComplianceRecord{Association: "b", Status: contract.NonCompliant})
	require.Equal(t, []contract.ComplianceRecord{{Association: "a", Status: contract.NonCompliant}, {Association: "b", Status: contract.NonCompliant}}, rs)
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
		{temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil), contract.StatusDeliveryTimedOut},
		{temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil), contract.StatusTimedOut},
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
