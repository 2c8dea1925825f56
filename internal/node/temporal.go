package node

import (
	"context"
	"fmt"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/visibility"
)

// ListPageSize is the page size of Stead's visibility listings
// (visibility.PageSize), for the listings that page by hand.
const ListPageSize = visibility.PageSize

// List returns the specs of the registered nodes selected by a visibility
// query, read from the node workflows' memos. dc must match the client's
// data converter.
func List(ctx context.Context, c client.Client, namespace string, dc converter.DataConverter, query string) ([]Node, error) {
	var out []Node
	err := visibility.Each(ctx, c, namespace, query, "nodes", func(e *workflowpb.WorkflowExecutionInfo) error {
		p := e.GetMemo().GetFields()[contract.NodeMemoKey]
		if p == nil {
			return nil
		}
		var n Node
		if err := dc.FromPayload(p, &n); err != nil {
			return fmt.Errorf("decode node %s: %w", e.GetExecution().GetWorkflowId(), err)
		}
		out = append(out, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
