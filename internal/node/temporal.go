package node

import (
	"context"
	"fmt"

	"github.com/stead-io/stead/contract"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// ListPageSize is the page size of Stead's visibility listings. Pages of
// 1,000 time out on the SQLite visibility store of the embedded server
// (seen with 1,000 nodes), while pages of 100 come back in milliseconds.
const ListPageSize = 100

// List returns the specs of the registered nodes selected by a visibility
// query, read from the node workflows' memos. dc must match the client's
// data converter.
func List(ctx context.Context, c client.Client, namespace string, dc converter.DataConverter, query string) ([]Node, error) {
	var out []Node
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: query, PageSize: ListPageSize, NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		for _, e := range resp.Executions {
			p := e.GetMemo().GetFields()[contract.NodeMemoKey]
			if p == nil {
				continue
			}
			var n Node
			if err := dc.FromPayload(p, &n); err != nil {
				return nil, fmt.Errorf("decode node %s: %w", e.GetExecution().GetWorkflowId(), err)
			}
			out = append(out, n)
		}
		token = resp.NextPageToken
		if len(token) == 0 {
			return out, nil
		}
	}
}
