package activities

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/transport"
)

// ErrLocalDocument is the failure type of an aws:runDocument LocalPath step whose document
// file cannot run: missing, too large, not a valid document, or refused when rendered.
// Reading it again would read the same file, so it is not retried.
const ErrLocalDocument = "LocalDocumentFailed"

// LoadLocalDocumentInput names the aws:runDocument LocalPath step whose file to read.
type LoadLocalDocumentInput struct {
	NodeID string             `json:"nodeId"`
	Step   documents.PlanStep `json:"step"`
}

// LocalDocumentResult is the document file a LocalPath step read and the steps it
// rendered into. It is the activity's result, so the workflow's history records exactly
// what ran in the step's place, and a replay runs the same steps.
type LocalDocumentResult struct {
	Path  string               `json:"path"`
	Hash  string               `json:"hash"`
	Bytes int                  `json:"bytes"`
	Steps []documents.PlanStep `json:"steps"`
}

// loadLocalDocumentOn reads the document file of an aws:runDocument LocalPath step
// from the node n, over the node's own connection and as its login user (the user
// that aws:downloadContent wrote it as), and renders it with the step's
// documentParameters. The file is read when the step is reached, not when the
// execution starts, because an earlier step of the same run puts it there.
func (a *Activities) loadLocalDocumentOn(ctx context.Context, n node.Node, in LoadLocalDocumentInput) (LocalDocumentResult, error) {
	ld := in.Step.LocalDocument
	if ld == nil {
		return LocalDocumentResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("step %s is not an aws:runDocument LocalPath step", in.Step.Name), ErrInvalidStep, nil)
	}
	failed := func(format string, args ...any) error {
		msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "; ")
		return temporal.NewNonRetryableApplicationError(msg, ErrLocalDocument, nil)
	}
	where := ld.Path
	if !path.IsAbs(ld.Path) {
		where += " (relative to the login's home)"
	}
	rn, err := a.runnerFor(n)
	if err != nil {
		return LocalDocumentResult{}, err
	}
	conn, err := a.connect(ctx, n)
	if err != nil {
		return LocalDocumentResult{}, err
	}
	defer conn.Close()
	// One byte beyond the limit tells a file over it from one exactly at it, without
	// copying a large file off the node.
	content, err := rn.ReadFile(ctx, conn, ld.Path, documents.MaxDocumentSize+1)
	switch {
	case ctx.Err() != nil:
		return LocalDocumentResult{}, ctx.Err()
	case errors.Is(err, fs.ErrNotExist):
		return LocalDocumentResult{}, failed("documentPath %s: no such file on node %s", where, n.ID)
	case errors.Is(err, transport.ErrNotRegular):
		return LocalDocumentResult{}, failed("documentPath %s: not a regular file on node %s", where, n.ID)
	case errors.Is(err, fs.ErrPermission):
		return LocalDocumentResult{}, failed("documentPath %s: not readable by the login user on node %s", where, n.ID)
	case err != nil:
		return LocalDocumentResult{}, deliveryError(fmt.Errorf("read %s on node %s: %w", ld.Path, n.ID, err))
	}
	if len(content) > documents.MaxDocumentSize {
		return LocalDocumentResult{}, failed("documentPath %s: the file is larger than the %d bytes a document may have", where, documents.MaxDocumentSize)
	}
	var transient error
	resolve := func(name, version string) (documents.Source, error) {
		src, err := a.ResolveDocument(ctx, name, version)
		if err != nil && !errors.Is(err, documents.ErrNotFound) && transient == nil {
			transient = err
		}
		return src, err
	}
	steps, err := documents.RenderLocal(in.Step, content, resolve)
	if err != nil {
		if transient != nil {
			return LocalDocumentResult{}, fmt.Errorf("render document %s: %w", ld.Path, transient)
		}
		return LocalDocumentResult{}, failed("%v", err)
	}
	res := LocalDocumentResult{Path: ld.Path, Hash: documents.Hash(content), Bytes: len(content), Steps: steps}
	activity.GetLogger(ctx).Info("local document loaded", "node", n.ID, "step", in.Step.Name, "path", ld.Path, "hash", res.Hash, "steps", len(steps))
	return res, nil
}
