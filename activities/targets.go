package activities

import (
	"context"
	"fmt"
	"time"

	"slices"
	"strings"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/targets"
)

// ResolveInput is the targets of an association.
type ResolveInput struct {
	Targets []targets.Target `json:"targets"`
	// Nodes, when set, keeps only these of the matching nodes, and of
	// those only the ones no run of Association reached since they changed:
	// a node that changed just before an execution started is already
	// covered by it.
	Nodes       []contract.NodeMatched `json:"nodes,omitempty"`
	Association string                 `json:"association,omitempty"`
}

// TargetRef is a node an execution runs on, with what routing needs.
type TargetRef struct {
	NodeID   string `json:"nodeId"`
	Region   string `json:"region,omitempty"`
	Platform string `json:"platform"`
}

// ResolveResult lists the matching nodes, sorted by id, and the explicitly
// named node ids that are not registered.
type ResolveResult struct {
	Nodes   []TargetRef `json:"nodes"`
	Missing []string    `json:"missing,omitempty"`
}

// ResolveTargets finds the nodes matching an association's targets with a
// visibility query over node workflows.
func (a *Activities) ResolveTargets(ctx context.Context, in ResolveInput) (ResolveResult, error) {
	q, err := targets.NodeQuery(in.Targets)
	if err != nil {
		return ResolveResult{}, err
	}
	nodes, err := node.List(ctx, a.Client, a.Namespace, a.converter(), q)
	if err != nil {
		return ResolveResult{}, err
	}
	var res ResolveResult
	found := map[string]bool{}
	for _, n := range nodes {
		if len(in.Nodes) > 0 {
			i := slices.IndexFunc(in.Nodes, func(m contract.NodeMatched) bool { return m.NodeID == n.ID })
			if i < 0 {
				continue
			}
			reached, err := a.reachedSince(ctx, in.Association, n.ID, in.Nodes[i].At)
			if err != nil {
				return ResolveResult{}, err
			}
			if reached {
				continue
			}
		}
		found[n.ID] = true
		res.Nodes = append(res.Nodes, TargetRef{NodeID: n.ID, Region: n.Region, Platform: n.Platform})
	}
	slices.SortFunc(res.Nodes, func(x, y TargetRef) int { return strings.Compare(x.NodeID, y.NodeID) })
	for _, id := range targets.InstanceIDs(in.Targets) {
		if !found[id] && !slices.Contains(res.Missing, id) {
			res.Missing = append(res.Missing, id)
		}
	}
	return res, nil
}

// reachedSince reports whether an execution of the association started a
// target workflow for the node at or after since.
func (a *Activities) reachedSince(ctx context.Context, association, nodeID string, since time.Time) (bool, error) {
	q := fmt.Sprintf("WorkflowType = 'TargetWorkflow' AND SteadAssociation = '%s' AND SteadNodeId = '%s' AND StartTime >= '%s'",
		association, nodeID, since.UTC().Format(time.RFC3339Nano))
	resp, err := a.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: a.Namespace, Query: q})
	if err != nil {
		return false, fmt.Errorf("count runs of %s on %s: %w", association, nodeID, err)
	}
	return resp.GetCount() > 0, nil
}
