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
	"github.com/stead-io/stead/internal/schedule"
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
	sched, err := schedule.ParseWithMinimumRate("rate(30 minutes)", time.Minute)
	require.NoError(t, err)
	spec := AssociationSpec{Name: "web", Document: "Stead-RunShellScript", Schedule: sched}
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
