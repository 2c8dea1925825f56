package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/node"
)

// NotifyDocumentChange signals every running association whose document
// reference now resolves to another version, so it runs the new content
// (reason DocumentChange) without waiting for its schedule. It returns the
// associations told; each one decides whether it runs.
func (a *Activities) NotifyDocumentChange(ctx context.Context, in contract.DocumentChanged) ([]string, error) {
	if err := documents.ValidName(in.Document); err != nil {
		return nil, fmt.Errorf("notify change of document %q: %w", in.Document, err)
	}
	var refs []string
	if in.Default {
		refs = append(refs, "'"+in.Document+"'", "'"+in.Document+":"+documents.VersionDefault+"'")
	}
	if in.Latest {
		refs = append(refs, "'"+in.Document+":"+documents.VersionLatest+"'")
	}
	if len(refs) == 0 {
		return nil, nil
	}
	// Document names hold no quotes (ValidName), so they are safe in the query.
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running' AND %s IN (%s)", contract.AssociationWorkflow, contract.AttrDocument.GetName(), strings.Join(refs, ", "))
	var told []string
	var token []byte
	for {
		resp, err := a.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: a.Namespace, NextPageToken: token, PageSize: node.ListPageSize, Query: query,
		})
		if err != nil {
			return told, fmt.Errorf("list associations of document %s: %w", in.Document, err)
		}
		for _, e := range resp.Executions {
			id := e.GetExecution().GetWorkflowId()
			err := a.Client.SignalWorkflow(ctx, id, "", contract.SignalDocumentChanged, in)
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				continue // deleted meanwhile
			}
			if err != nil {
				return told, fmt.Errorf("signal %s: %w", id, err)
			}
			told = append(told, id)
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return told, nil
		}
	}
}
