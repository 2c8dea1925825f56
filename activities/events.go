package activities

import (
	"context"
	"time"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/events"
	"github.com/stead-io/stead/internal/node"
)

// EventPublisher delivers state-change events (internal/events). Publish
// returns once each event is delivered or kept as undeliverable; it never
// fails, so a sink that is down never fails a step or an execution.
type EventPublisher interface {
	Publish(ctx context.Context, evs ...events.Event)
}

// eventDeadline bounds how long events may hold an activity up when their
// sinks are down; what is not delivered by then is kept as undeliverable.
const eventDeadline = time.Minute

// publish sends evs to the worker's sinks, if it has any. It goes on
// after the activity's context ends, within eventDeadline, so the end of
// a cancelled run is reported too.
func (a *Activities) publish(ctx context.Context, evs ...events.Event) {
	if a.Events == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), eventDeadline)
	defer cancel()
	a.Events.Publish(ctx, evs...)
}

// nodeStarted reports that a batch started its plan on a node.
func (a *Activities) nodeStarted(ctx context.Context, in BatchInput, ref contract.TargetRef) {
	a.publish(ctx, nodeEvent(in, ref, contract.TargetSummary{NodeID: ref.NodeID, Status: contract.StatusInProgress, StartedAt: a.now()}))
}

// nodeEnded reports how a node's plan ended, and the compliance that
// leaves the node in, and counts it in the metrics.
func (a *Activities) nodeEnded(ctx context.Context, in BatchInput, ref contract.TargetRef, sum contract.TargetSummary) {
	if a.Metrics != nil {
		a.Metrics.NodeEnded(sum)
	}
	compliance, severity := contract.Compliant, in.ComplianceSeverity
	if sum.Status != contract.StatusSuccess {
		compliance = contract.NonCompliant
	}
	if severity == "" {
		severity = "UNSPECIFIED"
	}
	at := sum.EndedAt
	if at.IsZero() {
		at = a.now()
	}
	a.publish(ctx, nodeEvent(in, ref, sum),
		events.New(events.DetailCompliance, at,
			[]string{in.ExecutionID, sum.NodeID, compliance},
			[]string{contract.NodeWorkflowID(sum.NodeID), contract.AssociationWorkflowID(in.AssociationName)},
			events.Detail{
				AssociationID: contract.AssociationWorkflowID(in.AssociationName), AssociationName: in.AssociationName,
				ExecutionID: in.ExecutionID, NodeID: sum.NodeID, ComplianceStatus: compliance, Severity: severity,
				DocumentName: in.Plan.DocumentName, DocumentVersion: in.Plan.DocumentVersion,
			}))
}

// nodeEvent is a node's state in an execution. Its id derives from the
// execution, node and status, so a retried batch reports the same events.
func nodeEvent(in BatchInput, ref contract.TargetRef, sum contract.TargetSummary) events.Event {
	at := sum.EndedAt
	if at.IsZero() {
		at = sum.StartedAt
	}
	d := events.Detail{
		AssociationID: contract.AssociationWorkflowID(in.AssociationName), AssociationName: in.AssociationName,
		ExecutionID: in.ExecutionID, NodeID: sum.NodeID, Status: sum.Status, DetailedStatus: sum.DetailedStatus,
		DocumentName: in.Plan.DocumentName, DocumentVersion: in.Plan.DocumentVersion,
	}
	if sum.Status != contract.StatusInProgress {
		code := sum.ExitCode
		d.ExitCode = &code
	}
	ev := events.New(events.DetailNodeAssociation, at, []string{in.ExecutionID, sum.NodeID, sum.Status},
		[]string{contract.NodeWorkflowID(sum.NodeID), contract.ExecutionWorkflowID(in.AssociationName, in.ExecutionID)}, d)
	ev.Region = ref.Region
	if ev.Region == "" {
		ev.Region = contract.DefaultRegion
	}
	return ev
}

// ExecutionEventInput is an execution's state: when it starts, and when
// it ends, with its counts.
type ExecutionEventInput struct {
	AssociationName    string         `json:"associationName"`
	AssociationVersion int            `json:"associationVersion"`
	ExecutionID        string         `json:"executionId"`
	Reason             string         `json:"reason"`
	Document           string         `json:"document"`
	DocumentVersion    string         `json:"documentVersion,omitempty"`
	Status             string         `json:"status"`
	DetailedStatus     string         `json:"detailedStatus,omitempty"`
	Summary            map[string]int `json:"summary,omitempty"`
	At                 time.Time      `json:"at"`
}

// PublishExecutionEvent reports an execution's state change and, when it
// ended, the association's status it leaves, and counts the end in the
// metrics. It never fails: a sink that
// is down keeps the events as undeliverable.
func (a *Activities) PublishExecutionEvent(ctx context.Context, in ExecutionEventInput) error {
	assocID := contract.AssociationWorkflowID(in.AssociationName)
	execID := contract.ExecutionWorkflowID(in.AssociationName, in.ExecutionID)
	d := events.Detail{
		AssociationID: assocID, AssociationName: in.AssociationName, AssociationVersion: in.AssociationVersion,
		ExecutionID: in.ExecutionID, Reason: in.Reason, DocumentName: in.Document, DocumentVersion: in.DocumentVersion,
		Status: in.Status, DetailedStatus: in.DetailedStatus, ExecutionSummary: in.Summary,
	}
	evs := []events.Event{events.New(events.DetailExecution, in.At, []string{in.ExecutionID, in.Status}, []string{execID, assocID}, d)}
	if in.Status != contract.StatusInProgress {
		if a.Metrics != nil {
			a.Metrics.ExecutionEnded(in.Status)
		}
		evs = append(evs, events.New(events.DetailAssociation, in.At, []string{in.AssociationName, in.ExecutionID, in.Status}, []string{assocID}, d))
	}
	a.publish(ctx, evs...)
	return nil
}

// nodeChanged reports a node registered (no previous spec) or changed.
func (a *Activities) nodeChanged(ctx context.Context, n node.Node, previous *node.Node, at time.Time) {
	status := "Registered"
	if previous != nil {
		status = "Updated"
	}
	region := n.Region
	if region == "" {
		region = contract.DefaultRegion
	}
	ev := events.New(events.DetailNode, at, []string{n.ID, status, at.UTC().Format(time.RFC3339Nano)}, []string{contract.NodeWorkflowID(n.ID)},
		events.Detail{NodeID: n.ID, Status: status, Tags: n.Tags})
	ev.Region = region
	a.publish(ctx, ev)
}
