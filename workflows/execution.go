package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
)

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
	// Nodes, when set, limits the run to these of the matching nodes,
	// less those an execution of the association reached since they changed.
	Nodes []contract.NodeMatched `json:"nodes,omitempty"`
	// Carry is the state of a run that continued as new.
	Carry *ExecutionCarry `json:"carry,omitempty"`
}

// ExecutionCarry is what an execution hands to its next run when it
// continues as new to keep its history bounded.
type ExecutionCarry struct {
	Result ExecutionResult        `json:"result"`
	Plan   documents.Plan         `json:"plan"`
	Nodes  []activities.TargetRef `json:"nodes"`
	Next   int                    `json:"next"`
}

// maxFailuresKept bounds the failed targets an execution result lists.
const maxFailuresKept = 100

// maxTargetsPerRun is how many targets one run of an execution dispatches
// before it drains and continues as new: about four history events per
// target keeps a run well under Temporal's 10,240-event warning.
var maxTargetsPerRun = 1000

// ExecutionResult is an execution's state: live through the progress
// query, final as the workflow's result. It stays small for any fleet size:
// each dispatched target's summary and output live in its own target
// workflow, TargetWorkflowID(contract.ExecutionWorkflowID(association, id), node).
type ExecutionResult struct {
	ExecutionID     string `json:"executionId"`
	Association     string `json:"association"`
	Reason          string `json:"reason"`
	Status          string `json:"status"`
	DetailedStatus  string `json:"detailedStatus,omitempty"`
	Document        string `json:"document"`
	DocumentVersion string `json:"documentVersion,omitempty"`
	DocumentHash    string `json:"documentHash,omitempty"`
	Counts          Counts `json:"counts"`
	// Dispatched lists, in order, the nodes a target workflow was started for.
	Dispatched []string `json:"dispatched,omitempty"`
	// NotRun groups the targets that never got a target workflow.
	NotRun []NotRun `json:"notRun,omitempty"`
	// Failures holds the first targets that did not succeed.
	Failures  []TargetSummary `json:"failures,omitempty"`
	StartedAt time.Time       `json:"startedAt"`
	EndedAt   time.Time       `json:"endedAt"`
	// Runs counts the workflow runs the execution took (continue-as-new).
	Runs int `json:"runs"`
}

// NotRun is a group of targets that ended without running, for one reason.
type NotRun struct {
	Status         string   `json:"status"`
	DetailedStatus string   `json:"detailedStatus"`
	Nodes          []string `json:"nodes"`
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
// MaxErrors targets have failed. After maxTargetsPerRun targets it lets the
// running ones finish and continues as new, so no history grows with the
// fleet.
func ExecutionWorkflow(ctx workflow.Context, in ExecutionInput) (ExecutionResult, error) {
	var (
		res   ExecutionResult
		plan  documents.Plan
		nodes []activities.TargetRef
		next  int
	)
	if in.Carry != nil {
		res, plan, nodes, next = in.Carry.Result, in.Carry.Plan, in.Carry.Nodes, in.Carry.Next
	} else {
		res = ExecutionResult{
			ExecutionID: in.ExecutionID,
			Association: in.AssociationName,
			Reason:      in.Reason,
			Status:      contract.StatusInProgress,
			Document:    in.Spec.Document,
			StartedAt:   workflow.Now(ctx),
		}
	}
	res.Runs++
	if err := workflow.SetQueryHandler(ctx, contract.ExecutionQueryProgress, func() (ExecutionResult, error) { return res, nil }); err != nil {
		return res, fmt.Errorf("set progress handler: %w", err)
	}
	finish := func(status, detail string) (ExecutionResult, error) {
		res.Status, res.DetailedStatus = status, detail
		res.EndedAt = workflow.Now(ctx)
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		err := workflow.UpsertTypedSearchAttributes(dctx, contract.AttrStatus.ValueSet(status))
		return res, err
	}

	if in.Carry == nil {
		actx := workflow.WithActivityOptions(ctx, controlOptions)
		var a *activities.Activities
		err := workflow.ExecuteActivity(actx, a.PrepareDocument, activities.PrepareInput{
			Document: in.Spec.Document, Parameters: in.Spec.Parameters,
		}).Get(ctx, &plan)
		if err != nil {
			return finish(contract.StatusFailed, "prepare document: "+rootMessage(err))
		}
		res.Document, res.DocumentVersion, res.DocumentHash = plan.DocumentName, plan.DocumentVersion, plan.DocumentHash

		var resolved activities.ResolveResult
		err = workflow.ExecuteActivity(actx, a.ResolveTargets, activities.ResolveInput{Association: in.AssociationName, Targets: in.Spec.Targets, Nodes: in.Nodes}).Get(ctx, &resolved)
		if err != nil {
			return finish(contract.StatusFailed, "resolve targets: "+rootMessage(err))
		}
		nodes = resolved.Nodes
		res.Counts.Total = len(nodes) + len(resolved.Missing)
		res.Counts.Pending = len(nodes)
		if len(resolved.Missing) > 0 {
			res.NotRun = append(res.NotRun, NotRun{Status: contract.StatusUndeliverable, DetailedStatus: "node is not registered", Nodes: resolved.Missing})
			res.Counts.Undeliverable = len(resolved.Missing)
		}
		if res.Counts.Total == 0 {
			return finish(contract.StatusSuccess, "no targets matched")
		}
	}

	concurrency := in.Spec.MaxConcurrency.Concurrency(res.Counts.Total)
	errorLimit := in.Spec.MaxErrors.ErrorLimit(res.Counts.Total)
	execWorkflowID := contract.ExecutionWorkflowID(in.AssociationName, in.ExecutionID)

	selector := workflow.NewSelector(ctx)
	inFlight, dispatchedThisRun := 0, 0
	stopped := false
	dispatch := func(ref activities.TargetRef) {
		wfID := TargetWorkflowID(execWorkflowID, ref.NodeID)
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:          wfID,
			TaskQueue:           contract.TaskQueue,
			ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
			WaitForCancellation: true,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				contract.AttrAssociation.ValueSet(in.AssociationName),
				contract.AttrExecutionID.ValueSet(in.ExecutionID),
				contract.AttrNodeID.ValueSet(ref.NodeID),
				contract.AttrDocument.ValueSet(plan.DocumentName),
				contract.AttrStatus.ValueSet(contract.StatusInProgress),
			),
		})
		res.Counts.add(contract.StatusPending, -1)
		res.Counts.add(contract.StatusInProgress, 1)
		res.Dispatched = append(res.Dispatched, ref.NodeID)
		startedAt := workflow.Now(ctx)
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
					StartedAt: startedAt, EndedAt: workflow.Now(ctx)}
			}
			res.Counts.add(contract.StatusInProgress, -1)
			res.Counts.add(s.Status, 1)
			if s.Status != contract.StatusSuccess && len(res.Failures) < maxFailuresKept {
				res.Failures = append(res.Failures, s)
			}
		})
	}

	rollover := false
	for {
		cancelled := ctx.Err() != nil
		if !stopped && (cancelled || res.Counts.Errors() > errorLimit) {
			stopped = true
		}
		for !stopped && !rollover && inFlight < concurrency && next < len(nodes) {
			dispatch(nodes[next])
			next++
			dispatchedThisRun++
			rollover = dispatchedThisRun >= maxTargetsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
		}
		if inFlight == 0 {
			break
		}
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		selector.Select(dctx)
	}
	cancelled := ctx.Err() != nil
	if rollover && !stopped && !cancelled && next < len(nodes) {
		return res, workflow.NewContinueAsNewError(ctx, ExecutionWorkflow, ExecutionInput{
			AssociationName: in.AssociationName, AssociationVersion: in.AssociationVersion,
			ExecutionID: in.ExecutionID, Reason: in.Reason, Spec: in.Spec, Nodes: in.Nodes,
			Carry: &ExecutionCarry{Result: res, Plan: plan, Nodes: nodes, Next: next},
		})
	}

	// Whatever was never dispatched ends Skipped, or Cancelled when the
	// execution was.
	if rest := nodes[next:]; len(rest) > 0 {
		nr := NotRun{Status: contract.StatusSkipped, DetailedStatus: "MaxErrors reached: not dispatched"}
		if cancelled {
			nr.Status, nr.DetailedStatus = contract.StatusCancelled, "execution cancelled before dispatch"
		}
		for _, r := range rest {
			nr.Nodes = append(nr.Nodes, r.NodeID)
		}
		res.NotRun = append(res.NotRun, nr)
		res.Counts.add(contract.StatusPending, -len(rest))
		res.Counts.add(nr.Status, len(rest))
	}
	c := res.Counts
	switch {
	case cancelled:
		return finish(contract.StatusCancelled, fmt.Sprintf("cancelled: %d of %d targets succeeded", c.Success, c.Total))
	case next < len(nodes):
		return finish(contract.StatusFailed, fmt.Sprintf("stopped after %d errors (MaxErrors %s): %d succeeded, %d skipped", c.Errors(), in.Spec.MaxErrors, c.Success, c.Skipped))
	case c.Errors() > 0:
		return finish(contract.StatusFailed, fmt.Sprintf("%d of %d targets failed (%d failed, %d timed out, %d undeliverable)", c.Errors(), c.Total, c.Failed, c.TimedOut+c.DeliveryTimedOut, c.Undeliverable))
	default:
		return finish(contract.StatusSuccess, fmt.Sprintf("%d of %d targets succeeded", c.Success, c.Total))
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
