package workflows

import (
	"encoding/json"
	"errors"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/audit"
)

// Bounds of the audit log. A segment is sealed at defaultSegmentRecords
// records or maxSegmentBytes of them, whichever comes first, so a sealed
// segment's one input payload stays far below Temporal's 2 MB limit. The
// head continues as new after maxAuditSignalsPerRun records (each costs
// it a few history events), carrying the open segment.
const (
	defaultSegmentRecords = 500
	maxSegmentBytes       = 512 << 10
	maxAuditSignalsPerRun = 1000
	// auditSeenKept is how many request ids the head remembers to drop a
	// change reported twice (a retried activity).
	auditSeenKept = 1000
)

// AuditState is the head of the audit log: the open segment and the end
// of the chain, carried across continue-as-new.
type AuditState struct {
	// Segment is the open segment's number, from 1; segments before it
	// are sealed, each in its own workflow.
	Segment int                    `json:"segment"`
	Records []contract.AuditRecord `json:"records,omitempty"`
	// Bytes is the open segment's size in JSON.
	Bytes int `json:"bytes,omitempty"`
	// Last is the newest record's sequence number and hash: what the
	// next record links to, in whichever segment that record is.
	LastSequence int64  `json:"lastSequence,omitempty"`
	LastHash     string `json:"lastHash,omitempty"`
	// Seen are the request ids of the newest records.
	Seen []string `json:"seen,omitempty"`
	// SegmentRecords, when not 0, seals segments at this many records
	// instead of defaultSegmentRecords (the replay recorder seals small
	// ones).
	SegmentRecords int `json:"segmentRecords,omitempty"`
}

// AuditWorkflow is the head of the audit log, AuditWorkflowID. Changes
// arrive by signal (contract.SignalAuditRecord, sent by the
// RecordChange activity of the workflow that made them); the head numbers
// each, links it to the one before by hash (audit.Link) and keeps it in
// the open segment. A full segment is sealed into an AuditSegmentWorkflow
// that keeps running, so no record is lost to the namespace's retention.
// The head ignores cancellation: only terminating it stops the log, and a
// record lost that way breaks the chain where `stead audit verify` sees it.
func AuditWorkflow(ctx workflow.Context, st AuditState) error {
	if st.Segment == 0 {
		st.Segment = 1
	}
	if st.SegmentRecords == 0 {
		st.SegmentRecords = defaultSegmentRecords
	}
	if err := workflow.SetQueryHandler(ctx, contract.AuditQueryRecords, func() (contract.AuditSegment, error) {
		return contract.AuditSegment{Number: st.Segment, Records: st.Records, Head: true}, nil
	}); err != nil {
		return err
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	records := workflow.GetSignalChannel(ctx, contract.SignalAuditRecord)
	for n := 0; n < maxAuditSignalsPerRun && !workflow.GetInfo(ctx).GetContinueAsNewSuggested(); n++ {
		var r contract.AuditRecord
		records.Receive(ctx, &r)
		appendAudit(ctx, &st, r)
	}
	var r contract.AuditRecord
	for records.ReceiveAsync(&r) {
		appendAudit(ctx, &st, r)
	}
	return workflow.NewContinueAsNewError(ctx, AuditWorkflow, st)
}

// appendAudit links r to the end of the chain and keeps it, sealing the
// open segment when it is full. A request already recorded is dropped.
func appendAudit(ctx workflow.Context, st *AuditState, r contract.AuditRecord) {
	if r.RequestID != "" && slices.Contains(st.Seen, r.RequestID) {
		return
	}
	r.Sequence, r.PreviousHash, r.Hash = 0, "", ""
	prev := &contract.AuditRecord{Sequence: st.LastSequence, Hash: st.LastHash}
	if st.LastSequence == 0 {
		prev = nil
	}
	linked, err := audit.Link(prev, r)
	if err != nil {
		// Only a raw part that is not JSON fails to encode; keep the
		// change, without that part, rather than lose it.
		workflow.GetLogger(ctx).Error("audit record not encodable", "requestId", r.RequestID, "error", err)
		r.Request, r.Response = nil, nil
		r.Extra = map[string]string{"note": "request parameters dropped: not JSON"}
		if linked, err = audit.Link(prev, r); err != nil {
			return
		}
	}
	st.Records = append(st.Records, linked)
	if b, err := json.Marshal(linked); err == nil {
		st.Bytes += len(b)
	}
	st.LastSequence, st.LastHash = linked.Sequence, linked.Hash
	if r.RequestID != "" {
		st.Seen = appendBounded(st.Seen, r.RequestID, auditSeenKept)
	}
	if len(st.Records) >= st.SegmentRecords || st.Bytes >= maxSegmentBytes {
		sealSegment(ctx, st)
	}
}

// sealSegment hands the open segment to a workflow of its own and opens
// the next. If the segment's workflow cannot be started, the records stay
// in the open segment, to be sealed with the next record.
func sealSegment(ctx workflow.Context, st *AuditState) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        contract.AuditSegmentWorkflowID(st.Segment),
		TaskQueue:         contract.TaskQueue,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	f := workflow.ExecuteChildWorkflow(cctx, AuditSegmentWorkflow, contract.AuditSegment{Number: st.Segment, Records: st.Records})
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("seal audit segment", "segment", st.Segment, "error", err)
		return
	}
	st.Segment++
	st.Records, st.Bytes = nil, 0
}

// AuditSegmentWorkflow holds a sealed segment of the audit log and answers
// it to the records query. It never ends and ignores cancellation: a
// running workflow is never deleted by retention, and its history is a
// handful of events.
func AuditSegmentWorkflow(ctx workflow.Context, seg contract.AuditSegment) error {
	if err := workflow.SetQueryHandler(ctx, contract.AuditQueryRecords, func() (contract.AuditSegment, error) {
		return seg, nil
	}); err != nil {
		return err
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	return workflow.Await(ctx, func() bool { return false })
}

// auditOptions are for RecordChange: a change is recorded even when the
// audit log is unreachable for a while.
var auditOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 10 * time.Minute,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
}

// recordChange reports a change the workflow made (or failed to make) to
// the audit log, and waits until it is recorded, so that whoever made the
// change finds it in the log once the change returns. It runs on a
// disconnected context, so a cancelled workflow still records what it did.
// result is the change's: nil, or the error (a refusal's failure type is
// the record's error code).
func recordChange(ctx workflow.Context, in activities.ChangeInput, result error) {
	in.At = workflow.Now(ctx)
	if in.RequestID == "" {
		if u := workflow.GetCurrentUpdateInfo(ctx); u != nil {
			in.RequestID = workflow.GetInfo(ctx).WorkflowExecution.ID + "/" + u.ID
		}
	}
	if result != nil {
		in.ErrorCode, in.ErrorMessage = "Error", result.Error()
		var app *temporal.ApplicationError
		if errors.As(result, &app) {
			in.ErrorCode, in.ErrorMessage = app.Type(), app.Message()
		}
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	var a *activities.Activities
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, auditOptions), a.RecordChange, in).Get(dctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("record change in the audit log", "operation", in.Operation, "resource", in.ResourceName, "error", err)
	}
}
