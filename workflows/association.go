package workflows

import (
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/internal/ratecontrol"
	"github.com/stead-io/stead/internal/schedule"
	"github.com/stead-io/stead/internal/searchattr"
	"github.com/stead-io/stead/internal/targets"
)

// Names of the association workflow's handlers.
const (
	AssociationUpdateStart   = "start"
	AssociationUpdateDelete  = "delete"
	AssociationQueryDescribe = "describe"
)

// maxExecutionsKept bounds the execution list an association carries.
const maxExecutionsKept = 100

// maxExecutionsPerRun bounds an association's history: after this many
// executions it continues as new.
const maxExecutionsPerRun = 50

// associationName is SSM's association-name rule, which also keeps names
// safe in workflow ids and visibility queries.
var associationName = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,128}$`)

// ValidAssociationName reports whether name is a valid association name.
func ValidAssociationName(name string) error {
	if !associationName.MatchString(name) {
		return fmt.Errorf("association name %q: want 3-128 letters, digits, '_', '.' or '-'", name)
	}
	return nil
}

// AssociationWorkflowID names an association: one workflow per name.
func AssociationWorkflowID(name string) string { return "association/" + name }

// AssociationSpec is what an association binds: a document with
// parameters, to targets, on a schedule, under rate controls.
type AssociationSpec struct {
	Name           string            `json:"name"`
	Document       string            `json:"document"`
	Parameters     map[string]any    `json:"parameters,omitempty"`
	Targets        []targets.Target  `json:"targets"`
	Schedule       schedule.Schedule `json:"schedule"`
	MaxConcurrency ratecontrol.Value `json:"maxConcurrency"`
	MaxErrors      ratecontrol.Value `json:"maxErrors"`
}

// ExecutionRecord is an execution as its association remembers it.
type ExecutionRecord struct {
	ExecutionID    string    `json:"executionId"`
	WorkflowID     string    `json:"workflowId"`
	Reason         string    `json:"reason"`
	Status         string    `json:"status"`
	DetailedStatus string    `json:"detailedStatus,omitempty"`
	Counts         Counts    `json:"counts"`
	DocumentHash   string    `json:"documentHash,omitempty"`
	StartedAt      time.Time `json:"startedAt"`
	EndedAt        time.Time `json:"endedAt"`
}

// AssociationState is an association's durable state, carried across
// continue-as-new and returned by the describe query.
type AssociationState struct {
	Spec           AssociationSpec   `json:"spec"`
	Version        int               `json:"version"`
	CreatedBy      string            `json:"createdBy"`
	CreatedAt      time.Time         `json:"createdAt"`
	Status         string            `json:"status"`
	DetailedStatus string            `json:"detailedStatus,omitempty"`
	NextRunAt      time.Time         `json:"nextRunAt"`
	Executions     []ExecutionRecord `json:"executions"`
	// Queue holds runs requested but not started: the first entry's id
	// is known to whoever asked for it.
	Queue []PendingRun `json:"queue,omitempty"`
	// Running is the execution in progress, if any.
	Running *ExecutionRecord `json:"running,omitempty"`
}

// PendingRun is a requested execution not yet started.
type PendingRun struct {
	ExecutionID string `json:"executionId"`
	Reason      string `json:"reason"`
}

// CreateAssociationInput starts an association workflow.
type CreateAssociationInput struct {
	Spec        AssociationSpec `json:"spec"`
	By          string          `json:"by"`
	ExecutionID string          `json:"executionId"` // the first execution's id, chosen by the caller so it can follow it
}

// StartRequest asks for a run now.
type StartRequest struct {
	By string `json:"by"`
}

// DeleteRequest asks the association to stop.
type DeleteRequest struct {
	By string `json:"by"`
}

// AssociationWorkflow keeps one association: it runs the association at
// creation, then at every schedule slot and on demand, one execution at a
// time, each as a child workflow. Delete cancels a running execution
// cleanly and ends the workflow.
func AssociationWorkflow(ctx workflow.Context, in CreateAssociationInput, carried *AssociationState) error {
	var st AssociationState
	if carried != nil {
		st = *carried
	} else {
		st = AssociationState{Spec: in.Spec, Version: 1, CreatedBy: in.By, CreatedAt: workflow.Now(ctx), Status: StatusPending}
		st.Queue = append(st.Queue, PendingRun{ExecutionID: in.ExecutionID, Reason: ReasonCreate})
		if !st.Spec.Schedule.IsZero() {
			st.NextRunAt, _ = st.Spec.Schedule.NextFrom(st.CreatedAt, st.CreatedAt)
		}
	}
	deleting := false
	started := 0
	var cancelRunning workflow.CancelFunc

	if err := workflow.SetQueryHandler(ctx, AssociationQueryDescribe, func() (AssociationState, error) { return st, nil }); err != nil {
		return fmt.Errorf("set describe handler: %w", err)
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, AssociationUpdateStart,
		func(ctx workflow.Context, req StartRequest) (string, error) {
			id := newExecutionID(ctx)
			st.Queue = append(st.Queue, PendingRun{ExecutionID: id, Reason: ReasonManual})
			return id, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req StartRequest) error {
			if deleting {
				return fmt.Errorf("association %s is being deleted", st.Spec.Name)
			}
			if len(st.Queue) > 0 {
				return fmt.Errorf("association %s already has a run queued (%s)", st.Spec.Name, st.Queue[0].ExecutionID)
			}
			return nil
		}},
	)
	if err != nil {
		return fmt.Errorf("set start handler: %w", err)
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, AssociationUpdateDelete,
		func(ctx workflow.Context, req DeleteRequest) (AssociationState, error) {
			deleting = true
			st.Queue = nil
			if cancelRunning != nil {
				cancelRunning()
			}
			if err := workflow.Await(ctx, func() bool { return st.Running == nil }); err != nil {
				return st, err
			}
			return st, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req DeleteRequest) error {
			if deleting {
				return fmt.Errorf("association %s is already being deleted", st.Spec.Name)
			}
			return nil
		}},
	)
	if err != nil {
		return fmt.Errorf("set delete handler: %w", err)
	}
	if err := publishAssociation(ctx, st); err != nil {
		return err
	}

	for !deleting {
		if st.Running == nil && len(st.Queue) > 0 {
			run := st.Queue[0]
			st.Queue = st.Queue[1:]
			cancelRunning = startExecution(ctx, &st, run)
			started++
		}
		if st.Running == nil && (started >= maxExecutionsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()) {
			break
		}
		var wait time.Duration
		if !st.NextRunAt.IsZero() {
			wait = max(st.NextRunAt.Sub(workflow.Now(ctx)), time.Millisecond)
		}
		queued, running := len(st.Queue), st.Running
		cond := func() bool { return deleting || len(st.Queue) != queued || st.Running != running }
		if wait == 0 {
			if err := workflow.Await(ctx, cond); err != nil {
				return err
			}
			continue
		}
		woken, err := workflow.AwaitWithTimeout(ctx, wait, cond)
		if err != nil {
			return err
		}
		if !woken && !deleting {
			// A slot came due. A slot missed while no worker ran fires
			// once now; the next slot is computed from now, so missed
			// slots never pile up.
			st.NextRunAt, _ = st.Spec.Schedule.NextFrom(st.CreatedAt, workflow.Now(ctx))
			if st.Running == nil && len(st.Queue) == 0 {
				st.Queue = append(st.Queue, PendingRun{ExecutionID: newExecutionID(ctx), Reason: ReasonSched})
			}
		}
	}
	if err := workflow.Await(ctx, func() bool { return st.Running == nil && workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	if deleting {
		return nil
	}
	return workflow.NewContinueAsNewError(ctx, AssociationWorkflow, in, &st)
}

// startExecution starts a run as a child workflow and records its outcome
// in the state when it ends.
func startExecution(ctx workflow.Context, st *AssociationState, run PendingRun) workflow.CancelFunc {
	wfID := ExecutionWorkflowID(st.Spec.Name, run.ExecutionID)
	rec := &ExecutionRecord{ExecutionID: run.ExecutionID, WorkflowID: wfID, Reason: run.Reason, Status: StatusInProgress, StartedAt: workflow.Now(ctx)}
	st.Running = rec
	cctx, cancel := workflow.WithCancel(ctx)
	cctx = workflow.WithChildOptions(cctx, workflow.ChildWorkflowOptions{
		WorkflowID:          wfID,
		TaskQueue:           TaskQueue,
		ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			searchattr.Association.ValueSet(st.Spec.Name),
			searchattr.ExecutionID.ValueSet(run.ExecutionID),
			searchattr.Document.ValueSet(st.Spec.Document),
			searchattr.Status.ValueSet(StatusInProgress),
		),
	})
	f := workflow.ExecuteChildWorkflow(cctx, ExecutionWorkflow, ExecutionInput{
		AssociationName: st.Spec.Name, AssociationVersion: st.Version,
		ExecutionID: run.ExecutionID, Reason: run.Reason, Spec: st.Spec,
	})
	workflow.Go(ctx, func(gctx workflow.Context) {
		var res ExecutionResult
		if err := f.Get(gctx, &res); err != nil {
			rec.Status, rec.DetailedStatus = failureStatus(err)
		} else {
			rec.Status, rec.DetailedStatus = res.Status, res.DetailedStatus
			rec.Counts, rec.DocumentHash = res.Counts, res.DocumentHash
		}
		rec.EndedAt = workflow.Now(gctx)
		st.Executions = appendBounded(st.Executions, *rec, maxExecutionsKept)
		st.Status, st.DetailedStatus = rec.Status, rec.DetailedStatus
		st.Running = nil
		dctx, _ := workflow.NewDisconnectedContext(gctx)
		if err := publishAssociation(dctx, *st); err != nil {
			workflow.GetLogger(gctx).Error("publish association status", "error", err)
		}
	})
	return cancel
}

// publishAssociation mirrors the association's name, document and status
// into search attributes, for listing and for the Web UI.
func publishAssociation(ctx workflow.Context, st AssociationState) error {
	err := workflow.UpsertTypedSearchAttributes(ctx,
		searchattr.Association.ValueSet(st.Spec.Name),
		searchattr.Document.ValueSet(st.Spec.Document),
		searchattr.Status.ValueSet(st.Status),
	)
	if err != nil {
		return fmt.Errorf("publish association search attributes: %w", err)
	}
	return nil
}

// newExecutionID makes a random execution id, recorded in history so
// replay sees the same one.
func newExecutionID(ctx workflow.Context) string {
	var id string
	_ = workflow.SideEffect(ctx, func(workflow.Context) any { return uuid.NewString() }).Get(&id)
	return id
}
