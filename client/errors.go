package client

import (
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/problems"
)

// Kinds of failure a front end acts on, for errors.Is. Every error the
// client returns for them reads as one line naming the problem.
var (
	// ErrNotFound: the node, document, association or execution does not
	// exist (or no longer does).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request is well formed but the state does not
	// allow it now: the name is taken, the thing changed since it was
	// read, or it is being deleted.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input is malformed or cannot run; the error is an
	// *InvalidError listing every problem.
	ErrInvalid = problems.ErrInvalid
)

// InvalidError lists every problem with an input (the first problems.Max,
// and how many there are); errors.Is(err, ErrInvalid) holds for it.
type InvalidError = problems.Error

// kindError is an error whose message is for people and whose kind
// (ErrNotFound, ErrConflict) is for programs.
type kindError struct {
	kind  error
	msg   string
	cause error
}

func (e *kindError) Error() string   { return e.msg }
func (e *kindError) Is(t error) bool { return t == e.kind }
func (e *kindError) Unwrap() error   { return e.cause }

// notFound is an ErrNotFound saying msg, caused by cause (may be nil).
func notFound(msg string, cause error) error {
	return &kindError{kind: ErrNotFound, msg: msg, cause: cause}
}

// conflict is an ErrConflict saying msg.
func conflict(msg string, cause error) error {
	return &kindError{kind: ErrConflict, msg: msg, cause: cause}
}

// invalid is the input's problems as an *InvalidError (nil for nil): one
// problem per error, every problem of an errors.Join or *InvalidError.
func invalid(errs ...error) error {
	var l problems.List
	for _, err := range errs {
		l.Add(err)
	}
	return l.Err()
}

// isNotFound reports whether Temporal says the workflow does not exist.
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// refusal maps a failed update or workflow: a missing workflow is
// ErrNotFound saying missing; a refusal by a workflow (an ApplicationError
// of a contract failure type) is that kind, an Invalid one its list of
// problems; anything else is wrapped, saying what was being done.
func refusal(err error, missing, doing string) error {
	if isNotFound(err) {
		return notFound(missing, err)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case contract.FailureInvalid:
			var p problems.Error
			if app.HasDetails() && app.Details(&p) == nil && p.Total > 0 {
				return &p
			}
			return invalid(errors.New(app.Message()))
		case contract.FailureNotFound:
			return notFound(doing+": "+app.Message(), err)
		case contract.FailureConflict:
			return conflict(doing+": "+app.Message(), err)
		}
	}
	return fmt.Errorf("%s: %w", doing, err)
}
