package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/problems"
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
	// LastRunEnded is when the association's previous execution ended:
	// no earlier run can have reached a node that matched after it.
	LastRunEnded time.Time `json:"lastRunEnded,omitzero"`
	// Carry is the state of a run that continued as new.
	Carry *ExecutionCarry `json:"carry,omitempty"`
}

// ExecutionCarry is what an execution hands to its next run when it
// continues as new to keep its history bounded. Its size does not grow with
// the fleet: nodes are resolved a page at a time, and only the page in hand
// is carried.
type ExecutionCarry struct {
	Result ExecutionResult `json:"result"`
	Plan   documents.Plan  `json:"plan"`
	// Planned is how many targets the execution counted when it started:
	// the base of percentage rate controls.
	Planned int `json:"planned"`
	// Resolved is how many nodes the pages resolved so far held.
	Resolved int `json:"resolved"`
	// Page is the next page of nodes to resolve.
	Page activities.Page `json:"page"`
	// Pending are resolved nodes not yet run, at most a page of them.
	Pending []contract.TargetRef `json:"pending,omitempty"`
}

// Bounds of an execution.
const (
	// maxFailuresKept bounds the failed targets an execution result lists.
	maxFailuresKept = 100
	// maxNotRunListed bounds the node ids a NotRun group lists.
	maxNotRunListed = 100
	// pageNodes is about how many nodes a page of resolved targets holds.
	pageNodes = 1000
	// maxBatchNodes bounds the nodes of one batch activity, and so its
	// result: Temporal's payload limit is 2 MB.
	maxBatchNodes = 500
	// batchRounds is how many nodes a batch holds per node it may run at
	// once: a batch is over after a few rounds, so the execution's progress
	// moves and a slow node holds back few others, for about six history
	// events a batch.
	batchRounds = 2
)

// maxHistoryEvents is the history length after which an execution lets its
// running batches finish and continues as new; far below Temporal's 10,240-
// event warning.
var maxHistoryEvents = 2000

// ExecutionResult is an execution's state: live through the progress
// query, final as the workflow's result. It stays small for any fleet size:
// each node's summary is in the result of the batch that ran it, in the
// execution's history.
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
	// NotRun groups the targets that never ran, for one reason each.
	NotRun []NotRun `json:"notRun,omitempty"`
	// Failures holds the first targets that did not succeed, without output.
	Failures  []contract.TargetSummary `json:"failures,omitempty"`
	StartedAt time.Time                `json:"startedAt"`
	EndedAt   time.Time                `json:"endedAt"`
	// Runs counts the workflow runs the execution took (continue-as-new).
	Runs int `json:"runs"`
	// Batches counts the batch activities the execution ran.
	Batches int `json:"batches"`
}

// NotRun is a group of targets that ended without running, for one reason.
type NotRun struct {
	Status         string `json:"status"`
	DetailedStatus string `json:"detailedStatus"`
	// Count is how many; Nodes lists the first maxNotRunListed of them.
	Count int      `json:"count"`
	Nodes []string `json:"nodes,omitempty"`
}

// addNotRun records targets that ended without running, in the group of
// their status and reason.
func (r *ExecutionResult) addNotRun(status, detail string, count int, ids []string) {
	if count == 0 {
		return
	}
	i := slices.IndexFunc(r.NotRun, func(g NotRun) bool { return g.Status == status && g.DetailedStatus == detail })
	if i < 0 {
		r.NotRun = append(r.NotRun, NotRun{Status: status, DetailedStatus: detail})
		i = len(r.NotRun) - 1
	}
	g := &r.NotRun[i]
	g.Count += count
	g.Nodes = append(g.Nodes, ids[:min(len(ids), maxNotRunListed-len(g.Nodes))]...)
	r.Counts.add(status, count)
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

// stepDeliveryTimeout bounds how long a batch may wait for a worker of its
// region to pick it up before its nodes are DeliveryTimedOut.
const stepDeliveryTimeout = 10 * time.Minute

// batchRetry retries a batch whose worker died or failed: the new attempt
// attaches to the steps still running and collects the finished ones.
var batchRetry = &temporal.RetryPolicy{
	InitialInterval:        time.Second,
	BackoffCoefficient:     2,
	MaximumInterval:        30 * time.Second,
	MaximumAttempts:        20,
	NonRetryableErrorTypes: []string{activities.ErrNodeNotFound},
}

// execution is one run of ExecutionWorkflow.
type execution struct {
	in          ExecutionInput
	c           ExecutionCarry
	concurrency int
	errorLimit  int
	// Running batches: how many, their nodes and their concurrency.
	batches, running, runningConcurrency int
	selector                             workflow.Selector
}

// ExecutionWorkflow carries one run of an association to its targets:
// render the document, then resolve the targets a page at a time and run
// them in batch activities on their regions' task queues, with at most
// MaxConcurrency nodes running at once across all batches, starting no node
// once more than MaxErrors have failed. Its history grows by a few events per
// batch, not per node; past maxHistoryEvents it lets the running batches
// finish and continues as new.
func ExecutionWorkflow(ctx workflow.Context, in ExecutionInput) (ExecutionResult, error) {
	e := &execution{in: in, selector: workflow.NewSelector(ctx)}
	if in.Carry != nil {
		e.c = *in.Carry
	} else {
		e.c.Result = ExecutionResult{
			ExecutionID: in.ExecutionID,
			Association: in.AssociationName,
			Reason:      in.Reason,
			Status:      contract.StatusInProgress,
			Document:    in.Spec.Document,
			StartedAt:   workflow.Now(ctx),
		}
	}
	res := &e.c.Result
	res.Runs++
	if err := workflow.SetQueryHandler(ctx, contract.ExecutionQueryProgress, func() (ExecutionResult, error) { return *res, nil }); err != nil {
		return *res, fmt.Errorf("set progress handler: %w", err)
	}
	// finish ends the execution: completed when every target succeeded,
	// cancelled when it was, failed otherwise, each time with the result.
	finish := func(status, detail string) (ExecutionResult, error) {
		res.Status, res.DetailedStatus = status, detail
		res.EndedAt = workflow.Now(ctx)
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		if err := workflow.UpsertTypedSearchAttributes(dctx, contract.AttrStatus.ValueSet(status)); err != nil {
			return *res, err
		}
		publishExecutionEvent(ctx, in, *res)
		switch {
		case status == contract.StatusSuccess:
			return *res, nil
		case status == contract.StatusCancelled && ctx.Err() != nil:
			return *res, temporal.NewCanceledError(*res)
		default:
			return *res, temporal.NewNonRetryableApplicationError(failureMessage(*res), contract.FailureExecution, nil, *res)
		}
	}

	actx := workflow.WithActivityOptions(ctx, controlOptions)
	var a *activities.Activities
	if in.Carry == nil {
		publishExecutionEvent(ctx, in, *res)
		var plan documents.Plan
		err := workflow.ExecuteActivity(actx, a.PrepareDocument, activities.PrepareInput{
			Document: in.Spec.Document, Parameters: in.Spec.Parameters,
		}).Get(ctx, &plan)
		if err != nil {
			return finish(contract.StatusFailed, "prepare document: "+rootMessage(err))
		}
		e.c.Plan = plan
		res.Document, res.DocumentVersion, res.DocumentHash = plan.DocumentName, plan.DocumentVersion, plan.DocumentHash
		if err := e.resolve(ctx); err != nil {
			return finish(contract.StatusFailed, "resolve targets: "+rootMessage(err))
		}
		if res.Counts.Total == 0 {
			return finish(contract.StatusSuccess, "no targets matched")
		}
	}
	e.concurrency = in.Spec.MaxConcurrency.Concurrency(e.c.Planned)
	e.errorLimit = in.Spec.MaxErrors.ErrorLimit(e.c.Planned)

	stopped, rollover := false, false
	for {
		if !stopped && (ctx.Err() != nil || res.Counts.Errors() > e.errorLimit) {
			stopped = true
		}
		if !stopped && !rollover && len(e.c.Pending) == 0 && !e.c.Page.Done() {
			if err := e.resolve(ctx); err != nil {
				// Resolving failed after its retries: the nodes not yet
				// resolved end Skipped with the reason below.
				res.DetailedStatus = "resolve targets: " + rootMessage(err)
				stopped = true
			}
		}
		for !stopped && !rollover && len(e.c.Pending) > 0 && e.dispatch(ctx) {
			rollover = workflow.GetInfo(ctx).GetCurrentHistoryLength() > maxHistoryEvents || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
		}
		if e.batches == 0 && (stopped || rollover || (len(e.c.Pending) == 0 && e.c.Page.Done())) {
			break
		}
		if !stopped && !rollover && len(e.c.Pending) == 0 && !e.c.Page.Done() && e.runningConcurrency < e.concurrency {
			continue // concurrency is free: resolve the next page now
		}
		if e.batches > 0 {
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			e.selector.Select(dctx)
		}
	}
	cancelled := ctx.Err() != nil
	if rollover && !stopped && !cancelled {
		in.Carry = &e.c
		return *res, workflow.NewContinueAsNewError(ctx, ExecutionWorkflow, in)
	}

	// Whatever never ran ends Skipped, or Cancelled when the execution was:
	// the nodes in hand by id, the ones never resolved by count.
	status, detail := contract.StatusSkipped, "MaxErrors reached: not run"
	if cancelled {
		status, detail = contract.StatusCancelled, "execution cancelled before the node ran"
	} else if res.DetailedStatus != "" {
		detail = res.DetailedStatus
	}
	ids := make([]string, len(e.c.Pending))
	for i, r := range e.c.Pending {
		ids[i] = r.NodeID
	}
	res.Counts.add(contract.StatusPending, -len(ids))
	res.addNotRun(status, detail, len(ids), ids)
	res.addNotRun(status, detail, res.Counts.Pending, nil)
	res.Counts.Pending = 0
	c := res.Counts
	switch {
	case cancelled:
		return finish(contract.StatusCancelled, fmt.Sprintf("cancelled: %d of %d targets succeeded", c.Success, c.Total))
	case c.Skipped > 0 && c.Errors() > e.errorLimit:
		return finish(contract.StatusFailed, fmt.Sprintf("stopped after %d errors (MaxErrors %s): %d succeeded, %d skipped", c.Errors(), in.Spec.MaxErrors, c.Success, c.Skipped))
	case c.Skipped > 0 && res.DetailedStatus != "":
		return finish(contract.StatusFailed, fmt.Sprintf("%s: %d succeeded, %d skipped", res.DetailedStatus, c.Success, c.Skipped))
	case c.Errors() > 0:
		return finish(contract.StatusFailed, fmt.Sprintf("%d of %d targets failed (%d failed, %d timed out, %d undeliverable)", c.Errors(), c.Total, c.Failed, c.TimedOut+c.DeliveryTimedOut, c.Undeliverable))
	default:
		return finish(contract.StatusSuccess, fmt.Sprintf("%d of %d targets succeeded", c.Success, c.Total))
	}
}

// resolve reads the next page of the execution's nodes into Pending. The
// first page also counts the targets and records the named nodes that are
// not registered.
func (e *execution) resolve(ctx workflow.Context) error {
	actx := workflow.WithActivityOptions(ctx, controlOptions)
	var a *activities.Activities
	var page activities.ResolveResult
	err := workflow.ExecuteActivity(actx, a.ResolveTargets, activities.ResolveInput{
		Association: e.in.AssociationName, Targets: e.in.Spec.Targets, Nodes: e.in.Nodes,
		LastRunEnded: e.in.LastRunEnded, Limit: pageNodes, Page: e.c.Page,
	}).Get(ctx, &page)
	if err != nil {
		return err
	}
	res := &e.c.Result
	if e.c.Page == (activities.Page{}) {
		e.c.Planned = page.Total
		res.Counts.Total = page.Total
		res.Counts.Pending = page.Total - len(page.Missing)
		res.addNotRun(contract.StatusUndeliverable, "node is not registered", len(page.Missing), page.Missing)
	}
	e.c.Page = page.Next
	e.c.Pending = page.Nodes
	e.c.Resolved += len(page.Nodes)
	// The fleet may have changed since it was counted: keep the counts true
	// to the nodes that are run.
	if extra := len(page.Nodes) - res.Counts.Pending; extra > 0 {
		res.Counts.Total += extra
		res.Counts.Pending += extra
	}
	if e.c.Page.Done() {
		if gone := res.Counts.Pending - len(page.Nodes); gone > 0 {
			res.Counts.Total -= gone
			res.Counts.Pending -= gone
		}
	}
	return nil
}

// dispatch starts a batch of the pending nodes of one region, if the rate
// controls allow one now, and reports whether it did. The batch's
// concurrency is the execution's free concurrency, shared between the
// regions that have nodes waiting; its failure allowance is the MaxErrors
// budget less the nodes of the batches already running, so that however
// their nodes end, no node starts after the execution's failures exceed
// MaxErrors.
func (e *execution) dispatch(ctx workflow.Context) bool {
	res := &e.c.Result
	free := e.concurrency - e.runningConcurrency
	allow := e.errorLimit - res.Counts.Errors() - e.running
	if free <= 0 || allow < 0 {
		return false
	}
	region := e.c.Pending[0].Region
	if regions := countRegions(e.c.Pending); regions > 1 {
		free = max(1, min(free, e.concurrency/regions))
	}
	n := 0
	for n < len(e.c.Pending) && n < min(maxBatchNodes, batchRounds*free) && e.c.Pending[n].Region == region {
		n++
	}
	if e.errorLimit >= e.c.Planned {
		allow = -1 // every node may fail: no allowance to keep
	}
	nodes := slices.Clone(e.c.Pending[:n])
	e.c.Pending = e.c.Pending[n:]
	conc := min(free, n)
	e.batches++
	e.running += n
	e.runningConcurrency += conc
	res.Batches++
	res.Counts.add(contract.StatusPending, -n)
	res.Counts.add(contract.StatusInProgress, n)

	bctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              contract.RegionTaskQueue(region),
		ScheduleToStartTimeout: stepDeliveryTimeout,
		StartToCloseTimeout:    batchTimeout(e.c.Plan, n, conc),
		HeartbeatTimeout:       20 * time.Second,
		RetryPolicy:            batchRetry,
		WaitForCancellation:    true,
	})
	var a *activities.Activities
	f := workflow.ExecuteActivity(bctx, a.RunBatch, activities.BatchInput{
		AssociationName: e.in.AssociationName, ExecutionID: e.in.ExecutionID, Plan: e.c.Plan,
		Nodes: nodes, Concurrency: conc, AllowFailures: allow, ComplianceSeverity: e.in.Spec.ComplianceSeverity,
	})
	startedAt := workflow.Now(ctx)
	e.selector.AddFuture(f, func(f workflow.Future) {
		e.batches--
		e.running -= n
		e.runningConcurrency -= conc
		var br contract.BatchResult
		if err := f.Get(ctx, &br); err != nil {
			status, detail := failureStatus(err)
			br = contract.BatchResult{}
			for _, r := range nodes {
				br.Nodes = append(br.Nodes, contract.TargetSummary{NodeID: r.NodeID, Status: status, DetailedStatus: detail, ExitCode: -1,
					StartedAt: startedAt, EndedAt: workflow.Now(ctx)})
			}
		}
		for _, s := range br.Nodes {
			res.Counts.add(contract.StatusInProgress, -1)
			res.Counts.add(s.Status, 1)
			if s.Status != contract.StatusSuccess && len(res.Failures) < maxFailuresKept {
				res.Failures = append(res.Failures, withoutOutput(s))
			}
		}
		// Nodes a batch did not start go back to the front of the queue:
		// a later batch runs them if the failures stay within MaxErrors.
		var back []contract.TargetRef
		for _, r := range nodes {
			if slices.Contains(br.NotStarted, r.NodeID) {
				back = append(back, r)
			}
		}
		res.Counts.add(contract.StatusInProgress, -len(back))
		res.Counts.add(contract.StatusPending, len(back))
		e.c.Pending = append(back, e.c.Pending...)
	})
	return true
}

// countRegions counts the regions of nodes sorted by region.
func countRegions(refs []contract.TargetRef) int {
	n := 0
	for i, r := range refs {
		if i == 0 || r.Region != refs[i-1].Region {
			n++
		}
	}
	return n
}

// batchTimeout bounds a batch: every node may take all its steps' timeouts
// and attempts, plus room for reboots, in rounds of conc nodes. It is only
// a backstop: a dead worker is noticed by the missing heartbeat.
func batchTimeout(plan documents.Plan, nodes, conc int) time.Duration {
	perNode := 10 * time.Minute
	for _, s := range plan.Steps {
		perNode += time.Duration(s.TimeoutSeconds*max(1, s.MaxAttempts)) * time.Second
	}
	rounds := (nodes + conc - 1) / conc
	return time.Duration(rounds)*perNode + 5*time.Minute
}

// withoutOutput is a node's summary without its steps' output, for the
// failures an execution result lists.
func withoutOutput(s contract.TargetSummary) contract.TargetSummary {
	s.Steps = slices.Clone(s.Steps)
	for i := range s.Steps {
		s.Steps[i].Stdout, s.Steps[i].Stderr = "", ""
	}
	return s
}

// failedNodesNamed is how many failed nodes an execution's failure message
// names; the result in its details lists more.
const failedNodesNamed = 3

// failureMessage is the one line a failed execution shows in the Web UI:
// its detailed status and the first nodes that failed, with why.
func failureMessage(res ExecutionResult) string {
	msg := res.DetailedStatus
	for i, f := range res.Failures {
		if i == failedNodesNamed {
			msg += fmt.Sprintf("; and %d more", len(res.Failures)-i)
			break
		}
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		msg += sep + f.NodeID + " " + f.Status
		if f.DetailedStatus != "" {
			msg += " (" + problems.Clip(f.DetailedStatus, 200) + ")"
		}
	}
	return msg
}

// ExecutionResultOf reads into res the result that an ended execution
// carries in the error it ended with (failed or cancelled), and reports
// whether it found one; an error without a result (the workflow timed out,
// was terminated, or failed before it had one) is left to the caller.
func ExecutionResultOf(err error, res *ExecutionResult) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == contract.FailureExecution && app.HasDetails() {
		return app.Details(res) == nil
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) && canceled.HasDetails() {
		return canceled.Details(res) == nil
	}
	return false
}

// failureStatus classifies a batch's failure, for all of its nodes: no
// worker of the region picked it up (DeliveryTimedOut), it was cancelled,
// or it failed.
func failureStatus(err error) (string, string) {
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return contract.StatusCancelled, "cancelled"
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) && timeout.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		return contract.StatusDeliveryTimedOut, "no worker of the node's region picked the step up"
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if slices.Contains(activities.DeliveryErrors, app.Type()) {
			return contract.StatusUndeliverable, app.Type() + ": " + app.Message()
		}
		return contract.StatusFailed, app.Message()
	}
	if errors.As(err, &timeout) {
		return contract.StatusTimedOut, err.Error()
	}
	return contract.StatusFailed, err.Error()
}

// rootMessage is the innermost failure message of an activity error, the
// part that names the problem, without the failure's type and retry flag.
func rootMessage(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}
