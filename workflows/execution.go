package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/searchattr"
)

// ExecutionQueryProgress is the execution workflow's query for its live
// state; the CLI's --wait polls it.
const ExecutionQueryProgress = "progress"

// Why an execution ran, as SSM records it.
const (
	ReasonCreate = "Create"
	ReasonUpdate = "Update"
	ReasonSched  = "Schedule"
	ReasonManual = "Manual"
	// ReasonNewNode is a run for nodes that newly matched the targets.
	ReasonNewNode = "NewNode"
)

// ExecutionInput is one run of an association.
type ExecutionInput struct {
	AssociationName    string          `json:"associationName"`
	AssociationVersion int             `json:"associationVersion"`
	ExecutionID        string          `json:"executionId"`
	Reason             string          `json:"reason"`
	Spec               AssociationSpec `json:"spec"`
	// Nodes, when set, limits the run to these of the matching nodes.
	Nodes []string `json:"nodes,omitempty"`
}

// ExecutionResult is an execution's state: live through the progress
// query, final as the workflow's result.
type ExecutionResult struct {
	ExecutionID     string          `json:"executionId"`
	Association     string          `json:"association"`
	Reason          string          `json:"reason"`
	Status          string          `json:"status"`
	DetailedStatus  string          `json:"detailedStatus,omitempty"`
	Document        string          `json:"document"`
	DocumentVersion string          `json:"documentVersion,omitempty"`
	DocumentHash    string          `json:"documentHash,omitempty"`
	Counts          Counts          `json:"counts"`
	Targets         []TargetSummary `json:"targets"`
	StartedAt       time.Time       `json:"startedAt"`
	EndedAt         time.Time       `json:"endedAt"`
}

// ExecutionWorkflowID names an execution of an association.
func ExecutionWorkflowID(association, executionID string) string {
	return "execution/" + association + "/" + executionID
}

// controlOptions are for the short control activities.
var controlOptions = workflow.ActivityOptions{
	StartToCloseTimeout: time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		MaximumInterval:        20 * time.Second,
		MaximumAttempts:        10,
		NonRetryableErrorTypes: []string{activities.ErrInvalidDocument},
	},
}

// ExecutionWorkflow carries one run of an association to its targets:
// render the document, resolve the targets, then keep at most
// MaxConcurrency target workflows running, stopping dispatch once more than
// MaxErrors targets have failed.
func ExecutionWorkflow(ctx workflow.Context, in ExecutionInput) (ExecutionResult, error) {
	res := ExecutionResult{
		ExecutionID: in.ExecutionID,
		Association: in.AssociationName,
		Reason:      in.Reason,
		Status:      StatusInProgress,
		Document:    in.Spec.Document,
		StartedAt:   workflow.Now(ctx),
	}
	if err := workflow.SetQueryHandler(ctx, ExecutionQueryProgress, func() (ExecutionResult, error) { return res, nil }); err != nil {
		return res, fmt.Errorf("set progress handler: %w", err)
	}
	finish := func(status, detail string) (ExecutionResult, error) {
		res.Status, res.DetailedStatus = status, detail
		res.EndedAt = workflow.Now(ctx)
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		err := workflow.UpsertTypedSearchAttributes(dctx, searchattr.Status.ValueSet(status))
		return res, err
	}

	actx := workflow.WithActivityOptions(ctx, controlOptions)
	var a *activities.Activities
	var plan documents.Plan
	err := workflow.ExecuteActivity(actx, a.PrepareDocument, activities.PrepareInput{
		Document: in.Spec.Document, Parameters: in.Spec.Parameters,
	}).Get(ctx, &plan)
	if err != nil {
		return finish(StatusFailed, "prepare document: "+rootMessage(err))
	}
	res.Document, res.DocumentVersion, res.DocumentHash = plan.DocumentName, plan.DocumentVersion, plan.DocumentHash

	var resolved activities.ResolveResult
	err = workflow.ExecuteActivity(actx, a.ResolveTargets, activities.ResolveInput{Targets: in.Spec.Targets, Nodes: in.Nodes}).Get(ctx, &resolved)
	if err != nil {
		return finish(StatusFailed, "resolve targets: "+rootMessage(err))
	}
	for _, n := range resolved.Nodes {
		res.Targets = append(res.Targets, TargetSummary{NodeID: n.NodeID, Status: StatusPending})
	}
	for _, id := range resolved.Missing {
		res.Targets = append(res.Targets, TargetSummary{NodeID: id, Status: StatusUndeliverable, DetailedStatus: "node is not registered", ExitCode: -1})
	}
	res.Counts.Total = len(res.Targets)
	for _, t := range res.Targets {
		res.Counts.add(t.Status, 1)
	}
	if res.Counts.Total == 0 {
		return finish(StatusSuccess, "no targets matched")
	}

	concurrency := in.Spec.MaxConcurrency.Concurrency(res.Counts.Total)
	errorLimit := in.Spec.MaxErrors.ErrorLimit(res.Counts.Total)
	execWorkflowID := ExecutionWorkflowID(in.AssociationName, in.ExecutionID)

	selector := workflow.NewSelector(ctx)
	inFlight, next := 0, 0
	stopped := false
	setStatus := func(i int, s TargetSummary) {
		res.Counts.add(res.Targets[i].Status, -1)
		res.Targets[i] = s
		res.Counts.add(s.Status, 1)
	}
	dispatch := func(i int) {
		ref := resolved.Nodes[i]
		wfID := TargetWorkflowID(execWorkflowID, ref.NodeID)
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:          wfID,
			TaskQueue:           TaskQueue,
			ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
			WaitForCancellation: true,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				searchattr.Association.ValueSet(in.AssociationName),
				searchattr.ExecutionID.ValueSet(in.ExecutionID),
				searchattr.NodeID.ValueSet(ref.NodeID),
				searchattr.Document.ValueSet(plan.DocumentName),
				searchattr.Status.ValueSet(StatusInProgress),
			),
		})
		setStatus(i, TargetSummary{NodeID: ref.NodeID, WorkflowID: wfID, Status: StatusInProgress, StartedAt: workflow.Now(ctx)})
		inFlight++
		f := workflow.ExecuteChildWorkflow(cctx, TargetWorkflow, TargetInput{
			AssociationName: in.AssociationName, ExecutionID: in.ExecutionID, Node: ref, Plan: plan,
			ComplianceSeverity: in.Spec.ComplianceSeverity,
		})
		selector.AddFuture(f, func(f workflow.Future) {
			inFlight--
			var s TargetSummary
			if err := f.Get(ctx, &s); err != nil {
				status, detail := failureStatus(err)
				s = TargetSummary{NodeID: ref.NodeID, WorkflowID: wfID, Status: status, DetailedStatus: detail, ExitCode: -1,
					StartedAt: res.Targets[i].StartedAt, EndedAt: workflow.Now(ctx)}
			}
			setStatus(i, s)
		})
	}

	for {
		cancelled := ctx.Err() != nil
		if !stopped && (cancelled || res.Counts.Errors() > errorLimit) {
			stopped = true
		}
		for !stopped && inFlight < concurrency && next < len(resolved.Nodes) {
			dispatch(next)
			next++
		}
		if inFlight == 0 {
			break
		}
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		selector.Select(dctx)
	}

	// Whatever was never dispatched ends Skipped, or Cancelled when the
	// execution was.
	cancelled := ctx.Err() != nil
	for i := next; i < len(resolved.Nodes); i++ {
		s := TargetSummary{NodeID: resolved.Nodes[i].NodeID, Status: StatusSkipped, DetailedStatus: "MaxErrors reached: not dispatched", ExitCode: -1}
		if cancelled {
			s.Status, s.DetailedStatus = StatusCancelled, "execution cancelled before dispatch"
		}
		setStatus(i, s)
	}
	c := res.Counts
	switch {
	case cancelled:
		return finish(StatusCancelled, fmt.Sprintf("cancelled: %d of %d targets succeeded", c.Success, c.Total))
	case next < len(resolved.Nodes):
		return finish(StatusFailed, fmt.Sprintf("stopped after %d errors (MaxErrors %s): %d succeeded, %d skipped", c.Errors(), in.Spec.MaxErrors, c.Success, c.Skipped))
	case c.Errors() > 0:
		return finish(StatusFailed, fmt.Sprintf("%d of %d targets failed (%d failed, %d timed out, %d undeliverable)", c.Errors(), c.Total, c.Failed, c.TimedOut+c.DeliveryTimedOut, c.Undeliverable))
	default:
		return finish(StatusSuccess, fmt.Sprintf("%d of %d targets succeeded", c.Success, c.Total))
	}
}

// rootMessage is the innermost failure message of an activity error, the
// part that names the problem.
func rootMessage(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
