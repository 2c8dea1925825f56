package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/docref"
	"github.com/stead-io/stead/internal/problems"
)

// CheckDocument is the check an association makes of its document when it
// starts, the same clients make before they create one: the document
// exists and the parameters fit it. It returns the reference to store (a
// built-in's canonical name). A document that cannot run fails with
// ErrInvalidDocument, non-retryable, with the message a client gives.
func (a *Activities) CheckDocument(ctx context.Context, in PrepareInput) (string, error) {
	ref, err := docref.Check(in.Document, in.Parameters, func(name, version string) (documents.Source, error) {
		return a.ResolveDocument(ctx, name, version)
	})
	if errors.Is(err, problems.ErrInvalid) {
		return "", temporal.NewNonRetryableApplicationError(err.Error(), ErrInvalidDocument, nil)
	}
	return ref, err
}
