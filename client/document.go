package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/visibility"
	"github.com/stead-io/stead/workflows"
)

// ValidateDocument checks document content offline, as the registry
// checks every version it stores: every problem in one line.
func ValidateDocument(content []byte) (*documents.Document, error) {
	doc, err := workflows.CheckDocumentContent(content)
	if err != nil {
		return nil, invalid(err)
	}
	return doc, nil
}

// CreateDocument registers content as version 1 of a new document, and
// returns once the document list shows it.
func (c *Client) CreateDocument(ctx context.Context, name string, content []byte) (workflows.PutDocumentResult, error) {
	var res workflows.PutDocumentResult
	if err := checkPut(name, content); err != nil {
		return res, err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return res, err
	}
	err = updateWithStart(ctx, cn, contract.DocumentWorkflowID(name), contract.DocumentWorkflow, workflows.DocumentState{},
		contract.DocumentUpdateCreate, workflows.PutDocumentRequest{Name: name, Content: string(content), By: cn.Identity}, &res)
	if err != nil {
		return res, refusal(err, "document "+name+" not found", "create document "+name)
	}
	return res, c.awaitDocumentListed(ctx, cn, name, true)
}

// UpdateDocument adds content as a new version of a registered document,
// unless its latest version has this content already (Created false).
func (c *Client) UpdateDocument(ctx context.Context, name string, content []byte) (workflows.PutDocumentResult, error) {
	var res workflows.PutDocumentResult
	if err := checkPut(name, content); err != nil {
		return res, err
	}
	err := c.updateDocument(ctx, name, contract.DocumentUpdateUpdate, func(by string) any {
		return workflows.PutDocumentRequest{Name: name, Content: string(content), By: by}
	}, &res)
	return res, err
}

// checkPut is the check of a name and content to register.
func checkPut(name string, content []byte) error {
	if err := documents.ValidName(name); err != nil {
		return invalid(err)
	}
	if err := workflows.CheckNamedDocument(name, content); err != nil {
		return invalid(err)
	}
	return nil
}

// SetDefaultDocumentVersion chooses the version a bare document name (and
// $DEFAULT) runs.
func (c *Client) SetDefaultDocumentVersion(ctx context.Context, name string, version int) (workflows.DocumentInfo, error) {
	var info workflows.DocumentInfo
	err := c.updateDocument(ctx, name, contract.DocumentUpdateSetDefault, func(by string) any {
		return workflows.SetDefaultRequest{Version: version, By: by}
	}, &info)
	return info, err
}

// DeleteDocument deletes a registered document and every version, and
// returns once the document list no longer shows it.
func (c *Client) DeleteDocument(ctx context.Context, name string) error {
	if err := c.updateDocument(ctx, name, contract.DocumentUpdateDelete, func(by string) any {
		return workflows.DeleteDocumentRequest{By: by}
	}, nil); err != nil {
		return err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	return c.awaitDocumentListed(ctx, cn, name, false)
}

// updateDocument sends an update, whose argument arg makes for the
// acting identity, to a registered document's workflow.
func (c *Client) updateDocument(ctx context.Context, name, update string, arg func(by string) any, result any) error {
	if _, err := c.DocumentVersions(ctx, name); err != nil {
		return err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	if err := sendUpdate(ctx, cn, contract.DocumentWorkflowID(name), update, arg(cn.Identity), result); err != nil {
		return refusal(err, "document "+name+" not found", update+" document "+name)
	}
	return nil
}

// DocumentVersions returns a registered document's versions (without
// their content) and which is the default. A built-in name, or one never
// registered, is an error naming the problem.
func (c *Client) DocumentVersions(ctx context.Context, name string) (workflows.DocumentInfo, error) {
	var info workflows.DocumentInfo
	if err := documents.ValidName(name); err != nil {
		return info, invalid(err)
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return info, err
	}
	missing := "document " + name + " not found"
	v, err := cn.Temporal.QueryWorkflow(ctx, contract.DocumentWorkflowID(name), "", contract.DocumentQueryDescribe)
	if err == nil {
		err = v.Get(&info)
	}
	// The describe query fails only for a document without versions: one
	// whose creation was refused, or being deleted.
	var refused *serviceerror.QueryFailed
	if isNotFound(err) || errors.As(err, &refused) {
		return info, notFound(missing, err)
	}
	if err != nil {
		return info, fmt.Errorf("describe document %s: %w", name, err)
	}
	closed, err := isClosed(ctx, cn, contract.DocumentWorkflowID(name))
	if err != nil {
		return info, fmt.Errorf("describe document %s: %w", name, err)
	}
	if closed {
		return info, notFound(missing, nil)
	}
	return info, nil
}

// registeredDocuments lists the names of registered documents, sorted.
func registeredDocuments(ctx context.Context, cn *Connection) ([]string, error) {
	var names []string
	err := visibility.Each(ctx, cn.Temporal, cn.Namespace,
		fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", contract.DocumentWorkflow), "documents",
		func(e *workflowpb.WorkflowExecutionInfo) error {
			if name, ok := strings.CutPrefix(e.GetExecution().GetWorkflowId(), contract.DocumentWorkflowID("")); ok && !slices.Contains(names, name) {
				names = append(names, name)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// awaitDocumentListed waits until the document list shows (or no longer
// shows) name.
func (c *Client) awaitDocumentListed(ctx context.Context, cn *Connection, name string, want bool) error {
	return awaitVisible(ctx, visibleWithin,
		func(ctx context.Context) (bool, error) {
			names, err := registeredDocuments(ctx, cn)
			return slices.Contains(names, name) == want, err
		}, nil,
		func(error) error {
			return fmt.Errorf("document %s changed but the document list does not show it after %s", name, visibleWithin)
		})
}

// DocumentListEntry is one document of the list: a built-in (or a
// built-in's alias) or a registered document.
type DocumentListEntry struct {
	Name           string `json:"name"`
	Source         string `json:"source"` // "built-in" or "registered"
	AliasOf        string `json:"aliasOf,omitempty"`
	DefaultVersion int    `json:"defaultVersion"`
	LatestVersion  int    `json:"latestVersion"`
}

// Documents lists the built-in documents, their aliases, then the
// registered documents by name.
func (c *Client) Documents(ctx context.Context) ([]DocumentListEntry, error) {
	var entries []DocumentListEntry
	for _, n := range documents.BuiltinNames() {
		entries = append(entries, DocumentListEntry{Name: n, Source: "built-in", DefaultVersion: 1, LatestVersion: 1})
	}
	for _, a := range documents.BuiltinAliases() {
		entries = append(entries, DocumentListEntry{Name: a[0], Source: "built-in", AliasOf: a[1], DefaultVersion: 1, LatestVersion: 1})
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	names, err := registeredDocuments(ctx, cn)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		info, err := c.DocumentVersions(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // deleted between the listing and the query
		}
		if err != nil {
			return nil, err
		}
		entries = append(entries, DocumentListEntry{Name: n, Source: "registered", DefaultVersion: info.DefaultVersion, LatestVersion: info.LatestVersion})
	}
	return entries, nil
}

// DocumentDescription is one version of a document with its content.
type DocumentDescription struct {
	Name           string    `json:"name"`
	BuiltIn        bool      `json:"builtIn"`
	Version        int       `json:"version"`
	DefaultVersion int       `json:"defaultVersion"`
	LatestVersion  int       `json:"latestVersion"`
	Hash           string    `json:"hash"`
	CreatedBy      string    `json:"createdBy,omitempty"`
	CreatedAt      time.Time `json:"createdAt,omitzero"`
	Content        string    `json:"content"`
}

// DescribeDocument returns one version (a number, $LATEST or $DEFAULT) of
// a built-in or registered document. A built-in needs no connection.
func (c *Client) DescribeDocument(ctx context.Context, name, version string) (DocumentDescription, error) {
	if err := documents.ValidVersion(version); err != nil {
		return DocumentDescription{}, invalid(err)
	}
	if _, _, ok := documents.Builtin(name); ok {
		src, err := documents.ResolveBuiltin(name, version)
		if err != nil {
			return DocumentDescription{}, notFound(err.Error(), err)
		}
		return DocumentDescription{Name: src.Name, BuiltIn: true, Version: 1, DefaultVersion: 1, LatestVersion: 1, Hash: src.Hash, Content: string(src.Content)}, nil
	}
	info, err := c.DocumentVersions(ctx, name)
	if err != nil {
		return DocumentDescription{}, err
	}
	dv, err := c.documentVersion(ctx, name, version)
	if errors.Is(err, ErrNotFound) {
		return DocumentDescription{}, notFound("describe document "+name+": "+err.Error(), err)
	}
	if err != nil {
		return DocumentDescription{}, err
	}
	return DocumentDescription{Name: name, Version: dv.Version, DefaultVersion: info.DefaultVersion, LatestVersion: info.LatestVersion,
		Hash: dv.Hash, CreatedBy: dv.CreatedBy, CreatedAt: dv.CreatedAt, Content: dv.Content}, nil
}

// documentVersion queries one version of a registered document. A
// document or version that does not exist is ErrNotFound and wraps
// documents.ErrNotFound, as a documents.Resolver's error must.
func (c *Client) documentVersion(ctx context.Context, name, version string) (workflows.DocumentVersion, error) {
	var dv workflows.DocumentVersion
	cn, err := c.connect(ctx)
	if err != nil {
		return dv, err
	}
	v, err := cn.Temporal.QueryWorkflow(ctx, contract.DocumentWorkflowID(name), "", contract.DocumentQueryVersion, version)
	if err == nil {
		err = v.Get(&dv)
	}
	// The version query fails only for a document or version that does
	// not exist (the selector was checked), saying which.
	var refused *serviceerror.QueryFailed
	switch {
	case isNotFound(err):
		return dv, notFound(fmt.Sprintf("document %s: %s", name, documents.ErrNotFound), documents.ErrNotFound)
	case errors.As(err, &refused):
		return dv, notFound(refused.Message, documents.ErrNotFound)
	case err != nil:
		return dv, fmt.Errorf("describe document %s: %w", name, err)
	}
	return dv, nil
}

// ResolveDocument finds a built-in or registered document by name and
// version selector: the documents.Resolver of everything this client
// renders and checks. Built-ins need no connection.
func (c *Client) ResolveDocument(ctx context.Context, name, version string) (documents.Source, error) {
	if _, _, ok := documents.Builtin(name); ok {
		return documents.ResolveBuiltin(name, version)
	}
	if err := documents.ValidVersion(version); err != nil {
		return documents.Source{}, invalid(fmt.Errorf("document %s: %w", name, err))
	}
	dv, err := c.documentVersion(ctx, name, version)
	if err != nil {
		return documents.Source{}, err
	}
	return documents.Source{Name: name, Version: fmt.Sprint(dv.Version), Hash: dv.Hash, Content: []byte(dv.Content)}, nil
}

// resolver is ResolveDocument as a documents.Resolver.
func (c *Client) resolver(ctx context.Context) documents.Resolver {
	return func(name, version string) (documents.Source, error) { return c.ResolveDocument(ctx, name, version) }
}

// RenderDocument renders a document's content with parameters: exactly
// what each step would run, with its environment; nothing runs. Documents
// its aws:runDocument steps name are resolved with ResolveDocument. The
// plan never holds a secret parameter's value.
func (c *Client) RenderDocument(ctx context.Context, src documents.Source, params map[string]any) (*documents.Plan, error) {
	plan, err := documents.RenderWith(src.Name, src.Content, params, c.resolver(ctx))
	if err != nil {
		return nil, err
	}
	plan.DocumentVersion, plan.DocumentHash = src.Version, src.Hash
	return plan.Redacted(), nil
}
