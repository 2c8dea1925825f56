package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
)

// eventOptions are for the activity that publishes an execution's events:
// it never fails on its own (a sink that is down keeps the events as
// undeliverable), so a few attempts only cover a worker that died.
var eventOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 2 * time.Minute,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
}

// publishExecutionEvent reports the execution's state to the workers'
// event sinks: one small activity per state change, never per node (nodes
// are reported from inside their batches). A failure is logged, never a
// reason to fail the execution. It runs on a disconnected context, so a
// cancelled execution reports its end.
func publishExecutionEvent(ctx workflow.Context, in ExecutionInput, res ExecutionResult) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	actx := workflow.WithActivityOptions(dctx, eventOptions)
	var a *activities.Activities
	at := res.EndedAt
	if res.Status == contract.StatusInProgress {
		at = res.StartedAt
	}
	err := workflow.ExecuteActivity(actx, a.PublishExecutionEvent, activities.ExecutionEventInput{
		AssociationName: in.AssociationName, AssociationVersion: in.AssociationVersion, ExecutionID: in.ExecutionID,
		Reason: in.Reason, Document: res.Document, DocumentVersion: res.DocumentVersion,
		Status: res.Status, DetailedStatus: res.DetailedStatus, Summary: res.Counts.byStatus(), At: at,
	}).Get(dctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("publish execution event", "status", res.Status, "error", err)
	}
}
