package workflows

import (
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/searchattr"
)

// Compliance statuses of a node for an association, as SSM reports them.
const (
	Compliant    = "COMPLIANT"
	NonCompliant = "NON_COMPLIANT"
)

// SignalCompliance carries a target's outcome to its node workflow.
const SignalCompliance = "compliance"

// ComplianceMemoKey is the node memo field holding its compliance records.
const ComplianceMemoKey = "compliance"

// ComplianceRecord is a node's compliance with one association: COMPLIANT
// when the association's last run on the node succeeded.
type ComplianceRecord struct {
	Association string    `json:"association"`
	Status      string    `json:"status"`
	Severity    string    `json:"severity"`
	ExecutionID string    `json:"executionId"`
	At          time.Time `json:"at"`
}

// complianceOf maps a target's final status to a compliance status.
func complianceOf(targetStatus string) string {
	if targetStatus == StatusSuccess {
		return Compliant
	}
	return NonCompliant
}

// recordCompliance stores r in the node's records, one per association,
// kept sorted by association.
func recordCompliance(records []ComplianceRecord, r ComplianceRecord) []ComplianceRecord {
	i, found := slices.BinarySearchFunc(records, r.Association, func(x ComplianceRecord, name string) int {
		return strings.Compare(x.Association, name)
	})
	if found {
		records[i] = r
		return records
	}
	return slices.Insert(records, i, r)
}

// publishCompliance mirrors the records into the node's SteadCompliance
// search attribute ("association=STATUS") and its memo.
func publishCompliance(ctx workflow.Context, records []ComplianceRecord) error {
	list := make([]string, len(records))
	for i, r := range records {
		list[i] = r.Association + "=" + r.Status
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, searchattr.Compliance.ValueSet(list)); err != nil {
		return err
	}
	return workflow.UpsertMemo(ctx, map[string]any{ComplianceMemoKey: records})
}

// reportCompliance tells the node's workflow how the association's run
// ended there. A node deregistered meanwhile has no workflow to tell.
func reportCompliance(ctx workflow.Context, in TargetInput, sum TargetSummary) {
	r := ComplianceRecord{
		Association: in.AssociationName,
		Status:      complianceOf(sum.Status),
		Severity:    in.ComplianceSeverity,
		ExecutionID: in.ExecutionID,
		At:          sum.EndedAt,
	}
	if r.Severity == "" {
		r.Severity = "UNSPECIFIED"
	}
	err := workflow.SignalExternalWorkflow(ctx, node.WorkflowID(in.Node.NodeID), "", SignalCompliance, r).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("report compliance", "node", in.Node.NodeID, "error", err)
	}
}
