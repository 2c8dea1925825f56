package activities

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/targets"
	"github.com/stead-io/stead/internal/visibility"
)

// ResolveInput asks for one page of the nodes an execution runs on. An
// execution resolves its targets a page at a time, so that no payload and
// no workflow state holds the whole fleet.
type ResolveInput struct {
	Targets []targets.Target `json:"targets"`
	// Nodes, when set, keeps only these of the matching nodes, and of
	// those only the ones no run of Association reached since they changed:
	// a node that changed just before an execution started is already
	// covered by it. Such a run is resolved in one page.
	Nodes       []contract.NodeMatched `json:"nodes,omitempty"`
	Association string                 `json:"association,omitempty"`
	// LastRunEnded is when the association's previous execution ended. A
	// node that matched after it can have been reached by no earlier run,
	// so the listing's word that it was not is not confirmed on the node.
	// Zero confirms every node.
	LastRunEnded time.Time `json:"lastRunEnded,omitzero"`
	// Limit is about how many nodes a page should hold.
	Limit int `json:"limit"`
	// Page is where this page starts; the zero Page is the first.
	Page Page `json:"page"`
}

// Page is a range of node shards (contract.NodeShard). The first page
// chooses the span from the count of matching nodes, so that a page holds
// about Limit of them.
type Page struct {
	Shard int64 `json:"shard"`
	Span  int64 `json:"span"`
}

// Done reports whether no page is left.
func (p Page) Done() bool { return p.Shard >= contract.NodeShards }

// ResolveResult is one page of matching nodes, sorted by region and then
// id, and where the next page starts. The first page also counts every
// matching node, and lists the explicitly named node ids that are not
// registered.
type ResolveResult struct {
	Nodes   []contract.TargetRef `json:"nodes"`
	Next    Page                 `json:"next"`
	Total   int                  `json:"total,omitempty"`
	Missing []string             `json:"missing,omitempty"`
}

// ResolveTargets returns a page of the nodes matching an association's
// targets, read with visibility queries over node workflows.
func (a *Activities) ResolveTargets(ctx context.Context, in ResolveInput) (ResolveResult, error) {
	q, err := targets.NodeQuery(in.Targets)
	if err != nil {
		return ResolveResult{}, err
	}
	if len(in.Nodes) > 0 {
		return a.resolveMatched(ctx, q, in)
	}
	var res ResolveResult
	page := in.Page
	if page == (Page{}) {
		resp, err := a.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: a.Namespace, Query: q})
		if err != nil {
			return ResolveResult{}, fmt.Errorf("count nodes: %w", err)
		}
		count := int(resp.GetCount())
		if res.Missing, err = a.missingNodes(ctx, q, in.Targets); err != nil {
			return ResolveResult{}, err
		}
		res.Total = count + len(res.Missing)
		page.Span = contract.NodeShards
		if count > in.Limit {
			page.Span = max(1, int64(in.Limit)*contract.NodeShards/int64(count))
		}
	}
	if page.Span < contract.NodeShards {
		q += fmt.Sprintf(" AND %s >= %d AND %s < %d", contract.AttrShard.GetName(), page.Shard, contract.AttrShard.GetName(), page.Shard+page.Span)
	}
	nodes, err := node.List(ctx, a.Client, a.Namespace, a.converter(), q)
	if err != nil {
		return ResolveResult{}, err
	}
	for _, n := range nodes {
		res.Nodes = append(res.Nodes, refOf(n))
	}
	sortRefs(res.Nodes)
	res.Next = Page{Shard: page.Shard + page.Span, Span: page.Span}
	return res, nil
}

// missingNodes lists the node ids the targets name explicitly that match
// no registered node.
func (a *Activities) missingNodes(ctx context.Context, q string, ts []targets.Target) ([]string, error) {
	ids := targets.InstanceIDs(ts)
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := node.List(ctx, a.Client, a.Namespace, a.converter(), q+" AND "+idsClause(ids))
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, id := range ids {
		if !slices.ContainsFunc(found, func(n node.Node) bool { return n.ID == id }) && !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// resolveMatched resolves a run for nodes that newly matched: those of
// in.Nodes that still match, less those that an execution of the
// association reached since they changed (their compliance record for it
// is from a run that started at or after the change).
func (a *Activities) resolveMatched(ctx context.Context, q string, in ResolveInput) (ResolveResult, error) {
	res := ResolveResult{Next: Page{Shard: contract.NodeShards}}
	for chunk := range slices.Chunk(in.Nodes, nodeQueryIDs) {
		ids := make([]string, len(chunk))
		for i, m := range chunk {
			ids[i] = m.NodeID
		}
		err := visibility.Each(ctx, a.Client, a.Namespace, q+" AND "+idsClause(ids), "nodes", func(e *workflow.WorkflowExecutionInfo) error {
			n, ok, err := node.Decode(a.converter(), e)
			if !ok || err != nil {
				return err
			}
			i := slices.IndexFunc(chunk, func(m contract.NodeMatched) bool { return m.NodeID == n.ID })
			if i < 0 {
				return nil
			}
			records, err := node.DecodeCompliance(a.converter(), n.ID, e.GetMemo())
			if err != nil {
				return err
			}
			at := chunk[i].At
			afterLastRun := !in.LastRunEnded.IsZero() && at.After(in.LastRunEnded)
			if !reachedSince(records, in.Association, at) && (afterLastRun || !a.reachedOnNode(ctx, n.ID, in.Association, at)) {
				res.Nodes = append(res.Nodes, refOf(n))
			}
			return nil
		})
		if err != nil {
			return ResolveResult{}, err
		}
	}
	sortRefs(res.Nodes)
	res.Total = len(res.Nodes)
	return res, nil
}

// reachedSince reports whether records hold association's record from a
// run that started at or after at.
func reachedSince(records []contract.ComplianceRecord, association string, at time.Time) bool {
	return slices.ContainsFunc(records, func(r contract.ComplianceRecord) bool {
		return r.Association == association && !r.At.Before(at)
	})
}

// reachedOnNode confirms on the node workflow itself what a visibility
// listing says a node lacks: the run that just reached a node signalled
// its compliance record a moment ago, and a listing can lag behind it, so a
// node would run the association's steps twice. Describing the workflow
// reads its current memo without writing anything; a record still waiting
// for the workflow to take it is waited for, a second at most.
func (a *Activities) reachedOnNode(ctx context.Context, nodeID, association string, at time.Time) bool {
	for try := 0; ; try++ {
		d, err := a.Client.DescribeWorkflowExecution(ctx, contract.NodeWorkflowID(nodeID), "")
		if err != nil {
			return false
		}
		if d.GetPendingWorkflowTask() != nil && try < 10 {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		records, err := node.DecodeCompliance(a.converter(), nodeID, d.GetWorkflowExecutionInfo().GetMemo())
		return err == nil && reachedSince(records, association, at)
	}
}

// refOf is the routing part of a node.
func refOf(n node.Node) contract.TargetRef {
	return contract.TargetRef{NodeID: n.ID, Region: cmp.Or(n.Region, contract.DefaultRegion), Platform: n.Platform}
}

// idsClause selects node workflows by id. Ids are validated to a character
// set without quotes, so quoting them is safe.
func idsClause(ids []string) string {
	return visibility.In(contract.AttrNodeID.GetName(), ids)
}

// sortRefs orders nodes by region, then id, so a page splits into batches
// per region.
func sortRefs(refs []contract.TargetRef) {
	slices.SortFunc(refs, func(x, y contract.TargetRef) int {
		return cmp.Or(strings.Compare(x.Region, y.Region), strings.Compare(x.NodeID, y.NodeID))
	})
}
