package client

import (
	"context"
	"fmt"
	"slices"
	"strings"

	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/targets"
	"github.com/stead-io/stead/internal/visibility"
)

// NodeCompliance is one node's compliance with one association.
type NodeCompliance struct {
	NodeID string `json:"nodeId"`
	contract.ComplianceRecord
}

// ComplianceFilter narrows a compliance listing; empty fields select all.
type ComplianceFilter struct {
	Node        string
	Association string
	// Status is COMPLIANT or NON_COMPLIANT, in any case.
	Status string
}

// Compliance lists the compliance of registered nodes with their
// associations, by node and association, read from the node workflows'
// memos: COMPLIANT where the association's last run on the node
// succeeded.
func (c *Client) Compliance(ctx context.Context, f ComplianceFilter) ([]NodeCompliance, error) {
	var ts []targets.Target
	if f.Node != "" {
		if err := node.ValidID(f.Node); err != nil {
			return nil, invalid(err)
		}
		ts = []targets.Target{{Key: targets.KeyInstanceIDs, Values: []string{f.Node}}}
	}
	status := strings.ToUpper(f.Status)
	if status != "" && status != contract.Compliant && status != contract.NonCompliant {
		return nil, invalid(fmt.Errorf("status %q: want COMPLIANT or NON_COMPLIANT", f.Status))
	}
	cn, q, err := c.nodeQuery(ctx, ts)
	if err != nil {
		return nil, err
	}
	out := []NodeCompliance{}
	err = visibility.Each(ctx, cn.Temporal, cn.Namespace, q, "nodes", func(e *workflowpb.WorkflowExecutionInfo) error {
		n, ok, err := node.Decode(cn.DataConverter, e)
		if !ok || err != nil {
			return err
		}
		recs, err := node.DecodeCompliance(cn.DataConverter, n.ID, e.GetMemo())
		if err != nil {
			return err
		}
		for _, r := range recs {
			if (f.Association == "" || r.Association == f.Association) && (status == "" || r.Status == status) {
				out = append(out, NodeCompliance{NodeID: n.ID, ComplianceRecord: r})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b NodeCompliance) int {
		return strings.Compare(a.NodeID+"\x00"+a.Association, b.NodeID+"\x00"+b.Association)
	})
	return out, nil
}

// ComplianceCount is how many nodes are compliant with an association.
type ComplianceCount struct {
	Association  string `json:"association"`
	Severity     string `json:"severity"`
	Compliant    int    `json:"compliant"`
	NonCompliant int    `json:"nonCompliant"`
}

// ComplianceSummary counts compliant and non-compliant nodes by
// association and severity.
func (c *Client) ComplianceSummary(ctx context.Context) ([]ComplianceCount, error) {
	recs, err := c.Compliance(ctx, ComplianceFilter{})
	if err != nil {
		return nil, err
	}
	counts := []ComplianceCount{}
	for _, r := range recs {
		i := slices.IndexFunc(counts, func(k ComplianceCount) bool { return k.Association == r.Association && k.Severity == r.Severity })
		if i < 0 {
			counts = append(counts, ComplianceCount{Association: r.Association, Severity: r.Severity})
			i = len(counts) - 1
		}
		if r.Status == contract.Compliant {
			counts[i].Compliant++
		} else {
			counts[i].NonCompliant++
		}
	}
	slices.SortFunc(counts, func(a, b ComplianceCount) int {
		return strings.Compare(a.Association+"\x00"+a.Severity, b.Association+"\x00"+b.Severity)
	})
	return counts, nil
}
