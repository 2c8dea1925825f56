package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/documents"
)

// PrepareInput names the document an execution runs and its parameters.
type PrepareInput struct {
	Document   string         `json:"document"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// PrepareDocument renders the document with its parameters into the plan
// every target of the execution runs. Rendering happens once, here, so all
// targets run the same text and the execution records its hash.
func (a *Activities) PrepareDocument(ctx context.Context, in PrepareInput) (*documents.Plan, error) {
	canonical, content, ok := documents.Builtin(in.Document)
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("document %s not found", in.Document), ErrInvalidDocument, nil)
	}
	plan, err := documents.Render(canonical, content, in.Parameters)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("render document %s: %v", canonical, err), ErrInvalidDocument, nil)
	}
	return plan, nil
}
