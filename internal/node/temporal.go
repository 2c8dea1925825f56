package node

import (
	"context"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/visibility"
)

// ListPageSize is the page size of Stead's visibility listings
// (visibility.PageSize), for the listings that page by hand.
const ListPageSize = visibility.PageSize

// Decode reads the node spec from a node workflow's memo; ok is false for a
// workflow that holds none.
func Decode(dc converter.DataConverter, e *workflowpb.WorkflowExecutionInfo) (n Node, ok bool, err error) {
	p := e.GetMemo().GetFields()[contract.NodeMemoKey]
	if p == nil {
		return Node{}, false, nil
	}
	if err := dc.FromPayload(p, &n); err != nil {
		return Node{}, false, fmt.Errorf("decode node %s: %w", e.GetExecution().GetWorkflowId(), err)
	}
	return n, true, nil
}

// DecodeCompliance reads a node workflow's compliance records, one per
// association, from its memo; a node no association has reached has none.
// memo is the memo of a visibility listing or of a describe.
func DecodeCompliance(dc converter.DataConverter, id string, memo *commonpb.Memo) ([]contract.ComplianceRecord, error) {
	p := memo.GetFields()[contract.ComplianceMemoKey]
	if p == nil {
		return nil, nil
	}
	var records []contract.ComplianceRecord
	if err := dc.FromPayload(p, &records); err != nil {
		return nil, fmt.Errorf("decode compliance of %s: %w", id, err)
	}
	return records, nil
}

// List returns the specs of the registered nodes selected by a visibility
// query, read from the node workflows' memos. dc must match the client's
// data converter.
func List(ctx context.Context, c client.Client, namespace string, dc converter.DataConverter, query string) ([]Node, error) {
	var out []Node
	err := visibility.Each(ctx, c, namespace, query, "nodes", func(e *workflowpb.WorkflowExecutionInfo) error {
		n, ok, err := Decode(dc, e)
		if ok {
			out = append(out, n)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
