package activities

import (
	"context"
	"slices"
	"strings"

	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/targets"
)

// ResolveInput is the targets of an association.
type ResolveInput struct {
	Targets []targets.Target `json:"targets"`
	// Nodes, when set, keeps only these of the matching nodes.
	Nodes []string `json:"nodes,omitempty"`
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
		if len(in.Nodes) > 0 && !slices.Contains(in.Nodes, n.ID) {
			continue
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
