package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
)

// PrepareInput names the document an execution runs and its parameters.
type PrepareInput struct {
	// Document is "NAME" or "NAME:VERSION" (a number, $LATEST or $DEFAULT); a bare name
	// runs the default version.
	Document   string         `json:"document"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// storedVersion is the part of a document workflow's version this package reads.
type storedVersion struct {
	Version int    `json:"version"`
	Hash    string `json:"hash"`
	Content string `json:"content"`
}

// PrepareDocument renders the document with its parameters into the plan
// every target of the execution runs. Rendering happens once, here, so all
// targets run the same text, the version ($DEFAULT, $LATEST, and those of
// nested documents) is pinned when the execution starts, and the execution
// records its name, version and hash.
func (a *Activities) PrepareDocument(ctx context.Context, in PrepareInput) (*documents.Plan, error) {
	invalid := func(msg string) error {
		return temporal.NewNonRetryableApplicationError(msg, ErrInvalidDocument, nil)
	}
	name, version, err := documents.ParseRef(in.Document)
	if err != nil {
		return nil, invalid(err.Error())
	}
	var transient error
	resolve := func(name, version string) (documents.Source, error) {
		src, err := a.ResolveDocument(ctx, name, version)
		if err != nil && !errors.Is(err, documents.ErrNotFound) && transient == nil {
			transient = err
		}
		return src, err
	}
	src, err := resolve(name, version)
	if errors.Is(err, documents.ErrNotFound) {
		return nil, invalid(err.Error())
	}
	if err != nil {
		return nil, err
	}
	plan, err := documents.RenderWith(src.Name, src.Content, in.Parameters, resolve)
	if err != nil {
		if transient != nil {
			return nil, fmt.Errorf("render document %s: %w", src.Name, transient)
		}
		return nil, invalid(fmt.Sprintf("render document %s: %v", src.Name, err))
	}
	plan.DocumentVersion, plan.DocumentHash = src.Version, src.Hash
	return plan, nil
}

// ResolveDocument finds a built-in or registered document by name and version selector.
// A document or version that does not exist is an error wrapping documents.ErrNotFound.
func (a *Activities) ResolveDocument(ctx context.Context, name, version string) (documents.Source, error) {
	if _, _, ok := documents.Builtin(name); ok {
		return documents.ResolveBuiltin(name, version)
	}
	if a.Client == nil {
		return documents.Source{}, fmt.Errorf("document %s: %w", name, documents.ErrNotFound)
	}
	return QueryDocument(ctx, a.Client, name, version)
}

// QueryDocument reads a registered document's version from its workflow. The CLI uses it
// too, so that checks at association create and rendering at run time read the same
// registry. A document that was never registered, or was deleted, wraps
// documents.ErrNotFound.
func QueryDocument(ctx context.Context, c client.Client, name, version string) (documents.Source, error) {
	if err := documents.ValidVersion(version); err != nil {
		return documents.Source{}, fmt.Errorf("document %s: %w", name, err)
	}
	v, err := c.QueryWorkflow(ctx, contract.DocumentWorkflowID(name), "", contract.DocumentQueryVersion, version)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return documents.Source{}, fmt.Errorf("document %s: %w", name, documents.ErrNotFound)
	}
	if err != nil {
		if strings.Contains(err.Error(), ": "+documents.ErrNotFound.Error()) {
			return documents.Source{}, fmt.Errorf("%s: %w", strings.TrimSuffix(queryMessage(err), ": "+documents.ErrNotFound.Error()), documents.ErrNotFound)
		}
		return documents.Source{}, fmt.Errorf("query document %s: %w", name, err)
	}
	var sv storedVersion
	if err := v.Get(&sv); err != nil {
		return documents.Source{}, fmt.Errorf("decode document %s: %w", name, err)
	}
	return documents.Source{Name: name, Version: fmt.Sprint(sv.Version), Hash: sv.Hash, Content: []byte(sv.Content)}, nil
}

// queryMessage is the message a query handler failed with, without the client's framing.
func queryMessage(err error) string {
	var qf *serviceerror.QueryFailed
	if errors.As(err, &qf) {
		return qf.Message
	}
	return err.Error()
}
