// Package visibility lists workflows through Temporal's visibility store, a
// page at a time: the one pager every Stead listing (nodes, associations,
// documents, compliance) goes through, so the page size that keeps the
// SQLite store answering is chosen once.
package visibility

import (
	"context"
	"fmt"
	"strings"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// PageSize is the page size of Stead's visibility listings. Pages of 1,000
// time out on the SQLite visibility store of the embedded server (seen with
// 1,000 nodes), while pages of 100 come back in milliseconds.
const PageSize = 100

// Each calls fn for every workflow the visibility query selects, in the
// store's order, until fn returns an error, which Each returns as it is,
// or the listing ends. A failed listing is "list <what>: <error>".
func Each(ctx context.Context, c client.Client, namespace, query, what string, fn func(*workflowpb.WorkflowExecutionInfo) error) error {
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: query, PageSize: PageSize, NextPageToken: token,
		})
		if err != nil {
			return fmt.Errorf("list %s: %w", what, err)
		}
		for _, e := range resp.GetExecutions() {
			if err := fn(e); err != nil {
				return err
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return nil
		}
	}
}

// In is the query clause "attr IN ('v1', 'v2', ...)". The values must be
// validated to a character set without quotes (node ids, tags, names)
// before they come here: quoting them is then safe.
func In(attr string, values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "'" + v + "'"
	}
	return attr + " IN (" + strings.Join(quoted, ", ") + ")"
}
