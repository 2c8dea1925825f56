package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/audit"
	"github.com/stead-io/stead/internal/events"
	"github.com/stead-io/stead/internal/problems"
)

// maxAuditRequest bounds the request parameters a record keeps, so that a
// segment of records stays well inside Temporal's payload limit whatever
// was sent.
const maxAuditRequest = 8 << 10

// ChangeInput is a change a workflow made (or refused while making it),
// as RecordChange reports it.
type ChangeInput struct {
	Operation    string    `json:"operation"`
	ResourceType string    `json:"resourceType"`
	ResourceName string    `json:"resourceName"`
	By           string    `json:"by"`
	At           time.Time `json:"at"`
	// RequestID is unique to the request: the update's id, or the
	// workflow's first run id for a creation. The log keeps one record
	// per request id, however often the activity is retried.
	RequestID string `json:"requestId"`
	// Request holds the request's parameters, without the document
	// parameters below.
	Request map[string]any `json:"request,omitempty"`
	// Document and Parameters are an association's document and its
	// parameters: the values of those the document marks secret are
	// replaced by documents.Redacted before they are recorded.
	Document   string         `json:"document,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	// Response holds what the change returned worth keeping (the id of
	// the execution a start queued).
	Response map[string]any `json:"response,omitempty"`
	// ErrorCode and ErrorMessage are why the change failed; empty when
	// it was made.
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	// Version is the association's version after the change, for its
	// lifecycle event.
	Version int `json:"version,omitempty"`
}

// RecordChange appends a change to the audit log, with its secret
// parameters redacted, and publishes the lifecycle event of a change that
// was made. The log's head is started if it is not running yet.
func (a *Activities) RecordChange(ctx context.Context, in ChangeInput) error {
	if a.Client == nil {
		return temporal.NewNonRetryableApplicationError("record change: this worker has no Temporal client to reach the audit log", "NoClient", nil)
	}
	rec, err := a.auditRecord(ctx, in)
	if err != nil {
		return err
	}
	_, err = a.Client.SignalWithStartWorkflow(ctx, contract.AuditWorkflowID, contract.SignalAuditRecord, rec, client.StartWorkflowOptions{
		ID:                       contract.AuditWorkflowID,
		TaskQueue:                contract.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, contract.AuditWorkflow, AuditHeadStart{})
	if err != nil {
		return fmt.Errorf("append to the audit log: %w", err)
	}
	if in.ErrorCode == "" {
		if ev, ok := lifecycleEvent(in); ok {
			a.publish(ctx, ev)
		}
	}
	return nil
}

// AuditHeadStart is what the audit log's head is started with when a
// change finds it not running: an empty log. Its shape is the head
// workflow's state (workflows.AuditState), of which it sets nothing.
type AuditHeadStart struct{}

// auditRecord is the change as the log keeps it, before the head numbers
// and chains it.
func (a *Activities) auditRecord(ctx context.Context, in ChangeInput) (contract.AuditRecord, error) {
	who, host := audit.ParseIdentity(in.By)
	req := make(map[string]any, len(in.Request)+2)
	for k, v := range in.Request {
		req[k] = v
	}
	if in.Document != "" {
		req["document"] = in.Document
	}
	if len(in.Parameters) > 0 {
		req["parameters"] = a.redactParameters(ctx, in.Document, in.Parameters)
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return contract.AuditRecord{}, fmt.Errorf("encode audit request: %w", err)
	}
	if len(raw) > maxAuditRequest {
		raw, _ = json.Marshal(map[string]any{"clipped": fmt.Sprintf("%d bytes of parameters, more than the %d a record keeps", len(raw), maxAuditRequest)})
	}
	var resp json.RawMessage
	if len(in.Response) > 0 {
		if resp, err = json.Marshal(in.Response); err != nil {
			return contract.AuditRecord{}, fmt.Errorf("encode audit response: %w", err)
		}
	}
	return contract.AuditRecord{
		EventVersion: contract.AuditRecordVersion,
		EventID:      events.StableID("audit", in.RequestID),
		EventTime:    in.At.UTC(),
		EventSource:  events.Source,
		EventName:    in.Operation,
		EventType:    "SteadApiCall",
		UserIdentity: who,
		SourceHost:   host,
		Resources:    []contract.AuditResource{{Type: in.ResourceType, Name: in.ResourceName}},
		Request:      raw,
		Response:     resp,
		ErrorCode:    in.ErrorCode,
		ErrorMessage: problems.Clip(in.ErrorMessage, 1024),
		RequestID:    in.RequestID,
		Account:      a.Namespace,
	}, nil
}

// redactParameters replaces the values of the parameters document marks
// secret with documents.Redacted; a {{ssm-secure:NAME}} reference names a
// secret without being one and stays. When the document cannot be read,
// no value can be told safe, and every one is redacted.
func (a *Activities) redactParameters(ctx context.Context, ref string, params map[string]any) map[string]any {
	isSecret := func(string) bool { return true }
	if name, version, err := documents.ParseRef(ref); err == nil {
		if src, err := a.ResolveDocument(ctx, name, version); err == nil {
			if doc, _, err := documents.Check(src.Content); err == nil {
				isSecret = func(p string) bool { return doc.Parameters[p].Secret }
			}
		}
	}
	return documents.RedactParameters(params, isSecret)
}

// lifecycleEvent is the state-change event of a change that was made:
// an association created, updated or deleted, a node deregistered. (A
// node's registration is reported where associations are told of it.)
func lifecycleEvent(in ChangeInput) (events.Event, bool) {
	var status string
	switch in.Operation {
	case contract.OpCreateAssociation:
		status = "Created"
	case contract.OpUpdateAssociation:
		status = "Updated"
	case contract.OpDeleteAssociation:
		status = "Deleted"
	case contract.OpDeregisterNode:
		id := contract.NodeWorkflowID(in.ResourceName)
		ev := events.New(events.DetailNode, in.At, []string{in.ResourceName, "Deregistered", in.RequestID}, []string{id},
			events.Detail{NodeID: in.ResourceName, Status: "Deregistered"})
		return ev, true
	default:
		return events.Event{}, false
	}
	id := contract.AssociationWorkflowID(in.ResourceName)
	return events.New(events.DetailAssociation, in.At, []string{in.ResourceName, status, in.RequestID}, []string{id},
		events.Detail{AssociationID: id, AssociationName: in.ResourceName, AssociationVersion: in.Version,
			DocumentName: in.Document, Status: status}), true
}
