package client

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/workflows"
)

// Preview is what an association would do if created or updated with a
// spec, worked out now without changing anything: the nodes its targets
// select, how its rate controls apply to them, and the plan its document
// renders to for each platform among them.
type Preview struct {
	Spec  workflows.AssociationSpec `json:"spec"`
	Nodes []node.Node               `json:"nodes"`
	// Concurrency is how many nodes run at once; ErrorLimit how many may
	// fail: at ErrorLimit+1 failures no further node starts.
	Concurrency int `json:"concurrency"`
	ErrorLimit  int `json:"errorLimit"`
	// Rounds is how many rounds of Concurrency nodes the run takes if
	// every node took the same time.
	Rounds int `json:"rounds"`
	// NextRunAt is the first schedule slot after now, if it has a schedule.
	NextRunAt time.Time `json:"nextRunAt,omitzero"`
	// Plan is the rendered document, secret values redacted as in
	// document render; Platforms are the platforms among Nodes (linux
	// when there are none), on each of which the plan's preconditions
	// choose the steps.
	Plan      *documents.Plan `json:"plan"`
	Platforms []string        `json:"platforms"`
}

// PreviewAssociation checks spec as CreateAssociation and UpdateAssociation
// do, resolves its targets now, and renders its document, sending nothing
// that changes anything.
func (c *Client) PreviewAssociation(ctx context.Context, spec workflows.AssociationSpec) (Preview, error) {
	spec, err := c.checkSpec(ctx, spec)
	if err != nil {
		return Preview{}, err
	}
	nodes, err := c.nodesMatching(ctx, spec.Targets)
	if err != nil {
		return Preview{}, err
	}
	slices.SortFunc(nodes, func(a, b node.Node) int { return strings.Compare(a.ID, b.ID) })
	total := len(nodes)
	p := Preview{Spec: spec, Nodes: nodes, Concurrency: min(spec.MaxConcurrency.Concurrency(total), max(total, 1)), ErrorLimit: spec.MaxErrors.ErrorLimit(total)}
	if total > 0 {
		p.Rounds = (total + p.Concurrency - 1) / p.Concurrency
	}
	if next, ok := spec.Schedule.Next(time.Now()); ok && !spec.Schedule.IsZero() {
		p.NextRunAt = next
	}
	name, version, err := documents.ParseRef(spec.Document)
	if err != nil {
		return Preview{}, invalid(err)
	}
	src, err := c.ResolveDocument(ctx, name, version)
	if err != nil {
		return Preview{}, err
	}
	p.Platforms = []string{node.PlatformLinux}
	if total > 0 {
		p.Platforms = nil
		for _, n := range nodes {
			if !slices.Contains(p.Platforms, n.Platform) {
				p.Platforms = append(p.Platforms, n.Platform)
			}
		}
		slices.Sort(p.Platforms)
	}
	if p.Plan, err = c.RenderDocument(ctx, src, spec.Parameters); err != nil {
		return Preview{}, err
	}
	return p, nil
}
