package workflows

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/ratecontrol"
	"github.com/stead-io/stead/internal/schedule"
	"github.com/stead-io/stead/internal/targets"
)

// Compliance severities an association reports with, as SSM names them.
var ComplianceSeverities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNSPECIFIED"}

// maxVersionsKept bounds the version history an association carries.
const maxVersionsKept = 50

// maxExecutionsKept bounds the execution list an association carries.
const maxExecutionsKept = 100

// maxExecutionsPerRun bounds an association's history: after this many
// executions it continues as new.
const maxExecutionsPerRun = 50

// New nodes are gathered into one run: it starts once no new node has
// come for newNodesQuiet, and at the latest newNodesWindow after the first
// came, so a burst of registrations makes a handful of runs, not one per
// node, and a lone new node waits a second.
const (
	newNodesQuiet  = time.Second
	newNodesWindow = 10 * time.Second
)

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
	// ComplianceSeverity is reported with the association's compliance
	// on each node.
	ComplianceSeverity string `json:"complianceSeverity,omitempty"`
	// ApplyOnlyAtCronInterval skips the run SSM makes at create and update.
	ApplyOnlyAtCronInterval bool `json:"applyOnlyAtCronInterval,omitempty"`
}

// changesWhatRuns reports whether b runs something different from a on
// different nodes: such an update triggers a run, as in SSM.
func (a AssociationSpec) changesWhatRuns(b AssociationSpec) bool {
	return a.Document != b.Document || !reflect.DeepEqual(a.Parameters, b.Parameters) || !reflect.DeepEqual(a.Targets, b.Targets)
}

// AssociationVersion is one immutable version of an association's spec.
type AssociationVersion struct {
	Version int             `json:"version"`
	Spec    AssociationSpec `json:"spec"`
	By      string          `json:"by"`
	At      time.Time       `json:"at"`
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
	// Versions lists the spec's versions, newest last.
	Versions []AssociationVersion `json:"versions"`
	// ScheduleAnchor is when the current schedule took effect; rate
	// schedules fire on a grid from it.
	ScheduleAnchor time.Time `json:"scheduleAnchor"`
	// NewNodes are nodes that newly matched the targets and wait for a
	// run of their own.
	NewNodes []contract.NodeMatched `json:"newNodes,omitempty"`
	// NewNodesSince and NewNodesLast are when the first and the latest
	// of NewNodes arrived (see newNodesDue).
	NewNodesSince time.Time `json:"newNodesSince,omitzero"`
	NewNodesLast  time.Time `json:"newNodesLast,omitzero"`
	// Paused, when set, says the association is stopped: nothing runs.
	Paused *Paused `json:"paused,omitempty"`
}

// PendingRun is a requested execution not yet started.
type PendingRun struct {
	ExecutionID string `json:"executionId"`
	Reason      string `json:"reason"`
	// Nodes limits the run to these nodes (a NewNode run).
	Nodes []contract.NodeMatched `json:"nodes,omitempty"`
}

// UpdateRequest replaces an association's spec with a new version.
type UpdateRequest struct {
	Spec AssociationSpec `json:"spec"`
	// ExpectedVersion, when not 0, makes the update fail if the current
	// version differs: someone else changed the association first.
	ExpectedVersion int    `json:"expectedVersion,omitempty"`
	By              string `json:"by"`
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
// cleanly and ends the workflow. Started with a spec it cannot run, it
// fails at once with a contract.FailureInvalid refusal.
func AssociationWorkflow(ctx workflow.Context, in CreateAssociationInput, carried *AssociationState) error {
	var st AssociationState
	checkSpec := carried == nil
	if carried != nil {
		st = *carried
	} else {
		now := workflow.Now(ctx)
		st = AssociationState{Spec: in.Spec, Version: 1, CreatedBy: in.By, CreatedAt: now, Status: contract.StatusPending, ScheduleAnchor: now}
		st.Versions = []AssociationVersion{{Version: 1, Spec: in.Spec, By: in.By, At: now}}
		if !in.Spec.ApplyOnlyAtCronInterval {
			st.Queue = append(st.Queue, PendingRun{ExecutionID: in.ExecutionID, Reason: ReasonCreate})
		}
		if !st.Spec.Schedule.IsZero() {
			st.NextRunAt, _ = st.Spec.Schedule.NextFrom(st.ScheduleAnchor, now)
		}
	}
	if st.ScheduleAnchor.IsZero() {
		st.ScheduleAnchor = st.CreatedAt
	}
	deleting := false
	started := 0
	var cancelRunning workflow.CancelFunc

	if err := workflow.SetQueryHandler(ctx, contract.AssociationQueryDescribe, func() (AssociationState, error) { return st, nil }); err != nil {
		return fmt.Errorf("set describe handler: %w", err)
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, contract.AssociationUpdateStart,
		func(ctx workflow.Context, req StartRequest) (string, error) {
			id := newExecutionID(ctx)
			st.Queue = append(st.Queue, PendingRun{ExecutionID: id, Reason: ReasonManual})
			change := associationChange(contract.OpStartAssociation, st, req.By)
			change.Response = map[string]any{"executionId": id}
			recordChange(ctx, change, nil)
			return id, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req StartRequest) error {
			if deleting {
				return refusef(contract.FailureConflict, "association %s is being deleted", st.Spec.Name)
			}
			if st.Paused != nil {
				return refusef(contract.FailureConflict, "association %s is stopped: association resume %[1]s first", st.Spec.Name)
			}
			if len(st.Queue) > 0 {
				return refusef(contract.FailureConflict, "association %s already has a run queued (%s)", st.Spec.Name, st.Queue[0].ExecutionID)
			}
			return nil
		}},
	)
	if err != nil {
		return fmt.Errorf("set start handler: %w", err)
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, contract.AssociationUpdateUpdate,
		func(ctx workflow.Context, req UpdateRequest) (AssociationState, error) {
			now := workflow.Now(ctx)
			old := st.Spec
			req.Spec = req.Spec.Normalized()
			st.Spec = req.Spec
			st.Version++
			st.Versions = appendBounded(st.Versions, AssociationVersion{Version: st.Version, Spec: req.Spec, By: req.By, At: now}, maxVersionsKept)
			if old.Schedule.String() != req.Spec.Schedule.String() {
				st.ScheduleAnchor = now
				st.NextRunAt = time.Time{}
				if !req.Spec.Schedule.IsZero() {
					st.NextRunAt, _ = req.Spec.Schedule.NextFrom(now, now)
				}
			}
			if old.changesWhatRuns(req.Spec) && !req.Spec.ApplyOnlyAtCronInterval && len(st.Queue) == 0 && st.Paused == nil {
				st.Queue = append(st.Queue, PendingRun{ExecutionID: newExecutionID(ctx), Reason: ReasonUpdate})
			}
			err := publishAssociation(ctx, st)
			// The caller learns the run the update queued from the state
			// as the update left it: while the change is recorded, the
			// main loop may already have started that run.
			updated := st
			updated.Queue = slices.Clone(st.Queue)
			change := associationChange(contract.OpUpdateAssociation, st, req.By)
			if req.ExpectedVersion != 0 {
				change.Request["expectedVersion"] = req.ExpectedVersion
			}
			recordChange(ctx, change, err)
			return updated, err
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req UpdateRequest) error {
			if deleting {
				return refusef(contract.FailureConflict, "association %s is being deleted", st.Spec.Name)
			}
			if req.Spec.Name != st.Spec.Name {
				return refusef(contract.FailureInvalid, "association name %s cannot change to %s", st.Spec.Name, req.Spec.Name)
			}
			if req.ExpectedVersion != 0 && req.ExpectedVersion != st.Version {
				return refusef(contract.FailureConflict, "association %s is at version %d, not %d: it changed since you read it", st.Spec.Name, st.Version, req.ExpectedVersion)
			}
			if err := req.Spec.Validate(); err != nil {
				return refusal(contract.FailureInvalid, err)
			}
			return nil
		}},
	)
	if err != nil {
		return fmt.Errorf("set update handler: %w", err)
	}
	nodeMatched := workflow.GetSignalChannel(ctx, contract.SignalNodeMatched)
	// Taken from the channel only when recorded, so the drain before
	// continue-as-new sees every node not yet recorded (see NodeWorkflow).
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return nodeMatched.Len() > 0 }); err != nil {
				return
			}
			var m contract.NodeMatched
			for nodeMatched.ReceiveAsync(&m) {
				if st.Paused == nil {
					st.addNewNode(m, workflow.Now(ctx))
				}
			}
		}
	})
	drainDocumentChanges := watchDocumentChanges(ctx, &st, &deleting)
	if err := setPauseHandlers(ctx, &st, &deleting, &cancelRunning); err != nil {
		return err
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, contract.AssociationUpdateDelete,
		func(ctx workflow.Context, req DeleteRequest) (AssociationState, error) {
			deleting = true
			st.Queue = nil
			if cancelRunning != nil {
				cancelRunning()
			}
			err := workflow.Await(ctx, func() bool { return st.Running == nil })
			recordChange(ctx, associationChange(contract.OpDeleteAssociation, st, req.By), err)
			return st, err
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req DeleteRequest) error {
			if deleting {
				return refusef(contract.FailureConflict, "association %s is already being deleted", st.Spec.Name)
			}
			return nil
		}},
	)
	if err != nil {
		return fmt.Errorf("set delete handler: %w", err)
	}
	// The handlers are set first, so that whoever created the association
	// can query and update it while its spec is checked.
	if checkSpec {
		spec, err := checkNewSpec(ctx, in.Spec)
		created := st
		created.Spec = spec
		change := associationChange(contract.OpCreateAssociation, created, in.By)
		change.RequestID = workflow.GetInfo(ctx).WorkflowExecution.ID + "/" + workflow.GetInfo(ctx).FirstRunID
		if err == nil {
			change.Response = map[string]any{"executionId": in.ExecutionID}
		}
		recordChange(ctx, change, err)
		if err != nil {
			return err
		}
		if st.Version == 1 {
			st.Spec, st.Versions[0].Spec = spec, spec
		}
	}
	if err := publishAssociation(ctx, st); err != nil {
		return err
	}

	for !deleting {
		paused := st.Paused != nil
		gathering := st.Running == nil && len(st.Queue) == 0 && len(st.NewNodes) > 0 && !paused
		if gathering && !workflow.Now(ctx).Before(st.newNodesDue()) {
			st.Queue = append(st.Queue, PendingRun{ExecutionID: newExecutionID(ctx), Reason: ReasonNewNode, Nodes: st.NewNodes})
			st.NewNodes, st.NewNodesSince, st.NewNodesLast = nil, time.Time{}, time.Time{}
			gathering = false
		}
		if st.Running == nil && len(st.Queue) > 0 && !paused {
			run := st.Queue[0]
			st.Queue = st.Queue[1:]
			cancelRunning = startExecution(ctx, &st, run)
			started++
		}
		if st.Running == nil && (started >= maxExecutionsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()) {
			break
		}
		// The loop waits for the next schedule slot or the end of the
		// new nodes' gathering, whichever is first; slot says which.
		var wait time.Duration
		slot := false
		if !st.NextRunAt.IsZero() && !paused {
			wait, slot = max(st.NextRunAt.Sub(workflow.Now(ctx)), time.Millisecond), true
		}
		if gathering {
			if w := max(st.newNodesDue().Sub(workflow.Now(ctx)), time.Millisecond); wait == 0 || w < wait {
				wait, slot = w, false
			}
		}
		// Only the first new node wakes the loop: later ones move the end
		// of the gathering, which the loop reads when its timer fires.
		queued, running, noNewNodes := len(st.Queue), st.Running, len(st.NewNodes) == 0
		cond := func() bool {
			return deleting || len(st.Queue) != queued || st.Running != running || (len(st.NewNodes) == 0) != noNewNodes || (st.Paused != nil) != paused
		}
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
		if !woken && !deleting && slot {
			// A slot came due. A slot missed while no worker ran fires
			// once now; the next slot is computed from now, so missed
			// slots never pile up.
			st.NextRunAt, _ = st.Spec.Schedule.NextFrom(st.ScheduleAnchor, workflow.Now(ctx))
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
	// Carry signals that arrived but were not yet read into the next run.
	drainDocumentChanges(ctx)
	var m contract.NodeMatched
	for nodeMatched.ReceiveAsync(&m) {
		st.addNewNode(m, workflow.Now(ctx))
	}
	return workflow.NewContinueAsNewError(ctx, AssociationWorkflow, in, &st)
}

// associationChange is an association change for the audit log: the
// request as the association now holds it.
func associationChange(op string, st AssociationState, by string) activities.ChangeInput {
	s := st.Spec
	req := map[string]any{"targets": s.Targets, "maxConcurrency": s.MaxConcurrency, "maxErrors": s.MaxErrors}
	if !s.Schedule.IsZero() {
		req["schedule"] = s.Schedule
	}
	if s.ComplianceSeverity != "" {
		req["complianceSeverity"] = s.ComplianceSeverity
	}
	if s.ApplyOnlyAtCronInterval {
		req["applyOnlyAtCronInterval"] = true
	}
	return activities.ChangeInput{
		Operation: op, ResourceType: contract.AuditResourceAssociation, ResourceName: s.Name, By: by,
		Request: req, Document: s.Document, Parameters: s.Parameters, Version: st.Version,
	}
}

// addNewNode adds a node that newly matched, arrived at now, to the nodes
// gathered for the next new-node run.
func (st *AssociationState) addNewNode(m contract.NodeMatched, now time.Time) {
	if len(st.NewNodes) == 0 {
		st.NewNodesSince = now
	}
	st.NewNodesLast = now
	st.NewNodes = addMatched(st.NewNodes, m)
}

// newNodesDue is when the gathered new nodes' run may start (see
// newNodesQuiet).
func (st *AssociationState) newNodesDue() time.Time {
	due := st.NewNodesLast.Add(newNodesQuiet)
	if latest := st.NewNodesSince.Add(newNodesWindow); latest.Before(due) {
		return latest
	}
	return due
}

// addMatched records a node that newly matched, keeping one entry per
// node with its latest change.
func addMatched(list []contract.NodeMatched, m contract.NodeMatched) []contract.NodeMatched {
	if i := slices.IndexFunc(list, func(x contract.NodeMatched) bool { return x.NodeID == m.NodeID }); i >= 0 {
		list[i] = m
		return list
	}
	return append(list, m)
}

// startExecution starts a run as a child workflow and records its outcome
// in the state when it ends.
func startExecution(ctx workflow.Context, st *AssociationState, run PendingRun) workflow.CancelFunc {
	wfID := contract.ExecutionWorkflowID(st.Spec.Name, run.ExecutionID)
	rec := &ExecutionRecord{ExecutionID: run.ExecutionID, WorkflowID: wfID, Reason: run.Reason, Status: contract.StatusInProgress, StartedAt: workflow.Now(ctx)}
	st.Running = rec
	cctx, cancel := workflow.WithCancel(ctx)
	cctx = workflow.WithChildOptions(cctx, workflow.ChildWorkflowOptions{
		WorkflowID:          wfID,
		TaskQueue:           contract.TaskQueue,
		ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			contract.AttrAssociation.ValueSet(st.Spec.Name),
			contract.AttrExecutionID.ValueSet(run.ExecutionID),
			contract.AttrDocument.ValueSet(st.Spec.Document),
			contract.AttrStatus.ValueSet(contract.StatusInProgress),
		),
	})
	in := ExecutionInput{
		AssociationName: st.Spec.Name, AssociationVersion: st.Version,
		ExecutionID: run.ExecutionID, Reason: run.Reason, Spec: st.Spec, Nodes: run.Nodes,
	}
	if n := len(st.Executions); n > 0 && len(run.Nodes) > 0 {
		in.LastRunEnded = st.Executions[n-1].EndedAt
	}
	f := workflow.ExecuteChildWorkflow(cctx, ExecutionWorkflow, in)
	workflow.Go(ctx, func(gctx workflow.Context) {
		var res ExecutionResult
		if err := f.Get(gctx, &res); err != nil && !ExecutionResultOf(err, &res) {
			rec.Status, rec.DetailedStatus = failureStatus(err)
		} else {
			rec.Status, rec.DetailedStatus = res.Status, res.DetailedStatus
			rec.Counts, rec.DocumentHash = res.Counts, res.DocumentHash
		}
		rec.EndedAt = workflow.Now(gctx)
		st.Running = nil
		if rec.Reason == ReasonNewNode && rec.Status == contract.StatusSuccess && rec.Counts.Total == 0 {
			// Every new node was reached by an execution already: this run
			// changed nothing, and is not worth a line in the record.
			return
		}
		st.Executions = appendBounded(st.Executions, *rec, maxExecutionsKept)
		if st.Paused == nil {
			st.Status, st.DetailedStatus = rec.Status, rec.DetailedStatus
		}
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
		contract.AttrAssociation.ValueSet(st.Spec.Name),
		contract.AttrDocument.ValueSet(st.Spec.Document),
		contract.AttrStatus.ValueSet(st.Status),
	)
	if err != nil {
		return fmt.Errorf("publish association search attributes: %w", err)
	}
	// The targets in the memo let a new node find the associations it
	// matches.
	if err := workflow.UpsertMemo(ctx, map[string]any{contract.AssociationTargetsMemoKey: st.Spec.Targets}); err != nil {
		return fmt.Errorf("publish association targets: %w", err)
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
