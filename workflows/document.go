package workflows

import (
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/problems"
)

// Bounds of a document workflow: its history continues as new after this many changes,
// and the versions it carries hold at most this much content (each up to 64 KB), so that
// the state stays well under Temporal's payload limit.
const (
	maxDocumentChangesPerRun = 200
	maxDocumentContentBytes  = 1 << 20
)

// DocumentVersion is one immutable version of a registered document.
type DocumentVersion struct {
	Version   int       `json:"version"`
	Hash      string    `json:"hash"`
	Content   string    `json:"content,omitempty"`
	Size      int       `json:"size"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
}

// DocumentState is a document workflow's durable state, carried across continue-as-new.
type DocumentState struct {
	Name           string            `json:"name"`
	DefaultVersion int               `json:"defaultVersion"`
	Versions       []DocumentVersion `json:"versions"`
}

// DocumentInfo is what describe returns: the document's versions without their content.
type DocumentInfo struct {
	Name           string            `json:"name"`
	DefaultVersion int               `json:"defaultVersion"`
	LatestVersion  int               `json:"latestVersion"`
	Versions       []DocumentVersion `json:"versions"`
}

// PutDocumentRequest is the argument of create and update: the content as the user wrote
// it (JSON or YAML) and who sends it.
type PutDocumentRequest struct {
	Name    string `json:"name"`
	Content string `json:"content"`
	By      string `json:"by"`
}

// PutDocumentResult says which version the content is, and whether it is new.
type PutDocumentResult struct {
	Version DocumentVersion `json:"version"`
	Created bool            `json:"created"`
}

// SetDefaultRequest makes a version the one $DEFAULT (and a bare name) runs.
type SetDefaultRequest struct {
	Version int    `json:"version"`
	By      string `json:"by"`
}

// DeleteDocumentRequest ends a document.
type DeleteDocumentRequest struct {
	By string `json:"by"`
}

// CheckDocumentContent parses and validates a document's content: what every stored
// version must pass, and what clients check before they send one (`stead document
// validate`). It returns every problem in one line (a *problems.Error).
func CheckDocumentContent(content []byte) (*documents.Document, error) {
	doc, _, err := documents.Check(content)
	if err != nil {
		var l problems.List
		l.Add(err)
		return nil, l.Err()
	}
	return doc, nil
}

// CheckNamedDocument is CheckDocumentContent for content to register as
// name: it also refuses a document whose steps run the document itself.
func CheckNamedDocument(name string, content []byte) error {
	doc, err := CheckDocumentContent(content)
	if err != nil {
		return fmt.Errorf("document %s: %w", name, err)
	}
	if step, ok := doc.RunsItself(name); ok {
		return fmt.Errorf("document %s: step %s runs %s itself, a cycle that could only fail", name, step, name)
	}
	return nil
}

// DocumentWorkflow holds a registered document's versions for as long as it exists.
// create (sent with update-with-start) stores version 1; update stores a new version only
// when the content changed; setDefault picks the version a bare name runs; delete ends
// it. Versions are immutable and keyed by content hash.
func DocumentWorkflow(ctx workflow.Context, st DocumentState) error {
	changes := 0
	deleted := false

	info := func() DocumentInfo {
		out := DocumentInfo{Name: st.Name, DefaultVersion: st.DefaultVersion, LatestVersion: len(st.Versions)}
		for _, v := range st.Versions {
			v.Content = ""
			out.Versions = append(out.Versions, v)
		}
		return out
	}
	if err := workflow.SetQueryHandler(ctx, contract.DocumentQueryDescribe, func() (DocumentInfo, error) {
		if len(st.Versions) == 0 || deleted {
			return DocumentInfo{}, fmt.Errorf("document %s: %w", st.Name, documents.ErrNotFound)
		}
		return info(), nil
	}); err != nil {
		return fmt.Errorf("set describe handler: %w", err)
	}
	if err := workflow.SetQueryHandler(ctx, contract.DocumentQueryVersion, func(selector string) (DocumentVersion, error) {
		if len(st.Versions) == 0 || deleted {
			return DocumentVersion{}, fmt.Errorf("document %s: %w", st.Name, documents.ErrNotFound)
		}
		n, err := st.resolve(selector)
		if err != nil {
			return DocumentVersion{}, err
		}
		return st.Versions[n-1], nil
	}); err != nil {
		return fmt.Errorf("set version handler: %w", err)
	}

	put := func(ctx workflow.Context, req PutDocumentRequest) (PutDocumentResult, error) {
		hash := documents.Hash([]byte(req.Content))
		if n := len(st.Versions); n > 0 && st.Versions[n-1].Hash == hash {
			return PutDocumentResult{Version: st.Versions[n-1]}, nil
		}
		if st.Name == "" {
			st.Name = req.Name
		}
		v := DocumentVersion{Version: len(st.Versions) + 1, Hash: hash, Content: req.Content, Size: len(req.Content),
			CreatedBy: req.By, CreatedAt: workflow.Now(ctx)}
		st.Versions = append(st.Versions, v)
		if st.DefaultVersion == 0 {
			st.DefaultVersion = v.Version
		}
		changes++
		if v.Version > 1 {
			notifyDocumentChange(ctx, contract.DocumentChanged{Document: st.Name, Latest: true, Version: v.Version})
		}
		return PutDocumentResult{Version: v, Created: true}, nil
	}
	checkPut := func(req PutDocumentRequest, creating bool) error {
		if deleted {
			return refusef(contract.FailureConflict, "document %s is being deleted", st.Name)
		}
		if err := documents.ValidName(req.Name); err != nil {
			return refusal(contract.FailureInvalid, err)
		}
		if st.Name != "" && req.Name != st.Name {
			return refusef(contract.FailureInvalid, "document name %s does not match workflow document %s", req.Name, st.Name)
		}
		if creating && len(st.Versions) > 0 {
			return refusef(contract.FailureConflict, "document %s already exists (version %d); use update to add a version", req.Name, len(st.Versions))
		}
		if !creating && len(st.Versions) == 0 {
			return refusef(contract.FailureNotFound, "document %s: %w", req.Name, documents.ErrNotFound)
		}
		if err := CheckNamedDocument(req.Name, []byte(req.Content)); err != nil {
			return refusal(contract.FailureInvalid, err)
		}
		if n := len(st.Versions); n > 0 && st.Versions[n-1].Hash == documents.Hash([]byte(req.Content)) {
			return nil // unchanged: no new version, nothing to bound
		}
		if total := st.contentBytes() + len(req.Content); total > maxDocumentContentBytes {
			return refusef(contract.FailureInvalid, "document %s: its versions would hold %d bytes, more than the %d a document keeps; register the new content under a new name", req.Name, total, maxDocumentContentBytes)
		}
		return nil
	}
	for _, h := range []struct {
		name     string
		creating bool
		op       string
	}{{contract.DocumentUpdateCreate, true, contract.OpCreateDocument}, {contract.DocumentUpdateUpdate, false, contract.OpUpdateDocument}} {
		creating, op := h.creating, h.op
		handler := func(ctx workflow.Context, req PutDocumentRequest) (PutDocumentResult, error) {
			res, err := put(ctx, req)
			change := documentChange(op, req.Name, req.By)
			// The content is kept in the document's versions; the record
			// names it by hash and size.
			change.Request = map[string]any{"hash": documents.Hash([]byte(req.Content)), "size": len(req.Content)}
			change.Response = map[string]any{"version": res.Version.Version, "created": res.Created}
			recordChange(ctx, change, err)
			return res, err
		}
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, handler, workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, req PutDocumentRequest) error { return checkPut(req, creating) },
		}); err != nil {
			return fmt.Errorf("set %s handler: %w", h.name, err)
		}
	}

	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.DocumentUpdateSetDefault,
		func(ctx workflow.Context, req SetDefaultRequest) (DocumentInfo, error) {
			changed := st.DefaultVersion != req.Version
			st.DefaultVersion = req.Version
			changes++
			if changed {
				notifyDocumentChange(ctx, contract.DocumentChanged{Document: st.Name, Default: true, Version: req.Version})
			}
			change := documentChange(contract.OpSetDefaultDocument, st.Name, req.By)
			change.Request = map[string]any{"defaultVersion": req.Version}
			recordChange(ctx, change, nil)
			return info(), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req SetDefaultRequest) error {
			if deleted || len(st.Versions) == 0 {
				return refusef(contract.FailureNotFound, "document %s: %w", st.Name, documents.ErrNotFound)
			}
			if req.Version < 1 || req.Version > len(st.Versions) {
				return refusef(contract.FailureNotFound, "document %s has no version %d (versions 1-%d)", st.Name, req.Version, len(st.Versions))
			}
			return nil
		}},
	); err != nil {
		return fmt.Errorf("set setDefault handler: %w", err)
	}

	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.DocumentUpdateDelete,
		func(ctx workflow.Context, req DeleteDocumentRequest) (DocumentInfo, error) {
			deleted = true
			workflow.GetLogger(ctx).Info("document deleted", "document", st.Name, "by", req.By)
			recordChange(ctx, documentChange(contract.OpDeleteDocument, st.Name, req.By), nil)
			return info(), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req DeleteDocumentRequest) error {
			if deleted || len(st.Versions) == 0 {
				return refusef(contract.FailureNotFound, "document %s: %w", st.Name, documents.ErrNotFound)
			}
			return nil
		}},
	); err != nil {
		return fmt.Errorf("set delete handler: %w", err)
	}

	if len(st.Versions) == 0 {
		// Started by an update-with-start whose create was rejected: close rather than
		// linger as a document with no content.
		ok, err := workflow.AwaitWithTimeout(ctx, unregisteredGrace, func() bool { return len(st.Versions) > 0 })
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
	}
	if err := workflow.Await(ctx, func() bool {
		return deleted || changes >= maxDocumentChangesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
	}); err != nil {
		return err
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	if deleted {
		return nil
	}
	return workflow.NewContinueAsNewError(ctx, contract.DocumentWorkflow, st)
}

// documentChange is a document change for the audit log.
func documentChange(op, name, by string) activities.ChangeInput {
	return activities.ChangeInput{Operation: op, ResourceType: contract.AuditResourceDocument, ResourceName: name, By: by}
}

// resolve turns a version selector into a version number, as SSM reads $LATEST and
// $DEFAULT.
func (st DocumentState) resolve(selector string) (int, error) {
	switch selector {
	case "", documents.VersionDefault:
		return st.DefaultVersion, nil
	case documents.VersionLatest:
		return len(st.Versions), nil
	}
	n, err := strconv.Atoi(selector)
	if err != nil || documents.ValidVersion(selector) != nil {
		return 0, fmt.Errorf("document %s: version %q: want a version number, %s or %s", st.Name, selector, documents.VersionLatest, documents.VersionDefault)
	}
	if n > len(st.Versions) {
		return 0, fmt.Errorf("document %s version %d: %w (latest is %d)", st.Name, n, documents.ErrNotFound, len(st.Versions))
	}
	return n, nil
}

func (st DocumentState) contentBytes() int {
	total := 0
	for _, v := range st.Versions {
		total += len(v.Content)
	}
	return total
}
