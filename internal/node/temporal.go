package node

import (
	"context"
	"fmt"

	"go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/stead-io/stead/contract"
)

// ListPageSize is the page size of Stead's visibility listings. Pages of
// 1,000 time out on the SQLite visibility store of the embedded server
// (seen with 1,000 nodes), while pages of 100 come back in milliseconds.
const ListPageSize = 100

// Each calls f for every workflow a visibility query selects, a page at a
// time: the one pager of node listings.
func Each(ctx context.Context, c client.Client, namespace, query string, f func(*workflow.WorkflowExecutionInfo) error) error {
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: query, PageSize: ListPageSize, NextPageToken: token,
		})
		if err != nil {
			return fmt.Errorf("list nodes: %w", err)
		}
		for _, e := range resp.Executions {
			if err := f(e); err != nil {
				return err
			}
		}
		token = resp.NextPageToken
		if len(token) == 0 {
			return nil
		}
	}
}

// Decode reads the node spec from a node workflow's memo; ok is false for a
// workflow that holds none.
func Decode(dc converter.DataConverter, e *workflow.WorkflowExecutionInfo) (n Node, ok bool, err error) {
	p := e.GetMemo().GetFields()[contract.NodeMemoKey]
	if p == nil {
		return Node{}, false, nil
	}
	if err := dc.FromPayload(p, &n); err != nil {
		return Node{}, false, fmt.Errorf("decode node %s: %w", e.GetExecution().GetWorkflowId(), err)
	}
	return n, true, nil
}

// List returns the specs of the registered nodes selected by a visibility
// query, read from the node workflows' memos. dc must match the client's
// data converter.
func List(ctx context.Context, c client.Client, namespace string, dc converter.DataConverter, query string) ([]Node, error) {
	var out []Node
	err := Each(ctx, c, namespace, query, func(e *workflow.WorkflowExecutionInfo) error {
		n, ok, err := Decode(dc, e)
		if ok {
			out = append(out, n)
		}
		return err
	})
	return out, err
}
