package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
)

// ReasonDocumentChange is a run caused by a new default or latest version
// of the document an association runs by $DEFAULT (or a bare name) or
// $LATEST.
const ReasonDocumentChange = "DocumentChange"

// notifyDocumentChange tells the associations using a document by a
// selector that now resolves to another version. A failure is logged, not
// returned: the document change itself stands, and the associations still
// pick the new version up at their next run.
func notifyDocumentChange(ctx workflow.Context, change contract.DocumentChanged) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var a *activities.Activities
	var told []string
	if err := workflow.ExecuteActivity(actx, a.NotifyDocumentChange, change).Get(ctx, &told); err != nil {
		workflow.GetLogger(ctx).Warn("associations not told of the document change", "document", change.Document, "error", err)
		return
	}
	workflow.GetLogger(ctx).Info("associations told of the document change", "document", change.Document, "associations", told)
}

// watchDocumentChanges queues a DocumentChange run whenever the document
// the association runs by $DEFAULT or $LATEST gets a new version under
// that selector. Associations that apply only at their cron interval do
// not run on a change, as they do not on create or update. At most one
// such run waits in the queue: it reads the document when it starts. The
// returned drain handles signals that arrived but were not yet read, before
// the association continues as new.
func watchDocumentChanges(ctx workflow.Context, st *AssociationState, deleting *bool) (drain func(workflow.Context)) {
	ch := workflow.GetSignalChannel(ctx, contract.SignalDocumentChanged)
	handle := func(ctx workflow.Context, m contract.DocumentChanged) {
		if *deleting || st.Paused != nil || st.Spec.ApplyOnlyAtCronInterval || !documentChangeApplies(st.Spec.Document, m) {
			return
		}
		queued := false
		for _, r := range st.Queue {
			queued = queued || r.Reason == ReasonDocumentChange
		}
		if !queued {
			st.Queue = append(st.Queue, PendingRun{ExecutionID: newExecutionID(ctx), Reason: ReasonDocumentChange})
		}
	}
	// Taken from the channel only when handled, so the drain before
	// continue-as-new sees every change not yet handled (see NodeWorkflow).
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return ch.Len() > 0 }); err != nil {
				return
			}
			var m contract.DocumentChanged
			for ch.ReceiveAsync(&m) {
				handle(ctx, m)
			}
		}
	})
	return func(ctx workflow.Context) {
		var m contract.DocumentChanged
		for ch.ReceiveAsync(&m) {
			handle(ctx, m)
		}
	}
}

// documentChangeApplies reports whether a change of a document's default
// or latest version changes what the reference ref runs.
func documentChangeApplies(ref string, m contract.DocumentChanged) bool {
	name, version, err := documents.ParseRef(ref)
	if err != nil || name != m.Document {
		return false
	}
	switch version {
	case "", documents.VersionDefault:
		return m.Default
	case documents.VersionLatest:
		return m.Latest
	}
	return false
}
