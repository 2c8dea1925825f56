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
	var decodeErr error
	err := visibility.Each(ctx, c, namespace, query, func(e *workflowpb.WorkflowExecutionInfo) error {
		p := e.GetMemo().GetFields()[contract.NodeMemoKey]
		if p == nil {
			return nil
		}
		var n Node
		if err := dc.FromPayload(p, &n); err != nil {
			decodeErr = fmt.Errorf("decode node %s: %w", e.GetExecution().GetWorkflowId(), err)
			return decodeErr
		}
		out = append(out, n)
		return nil
	})
	if decodeErr != nil {
		return nil, decodeErr
	}
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return out, nil
}
