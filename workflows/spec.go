package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/problems"
	"github.com/stead-io/stead/internal/ratecontrol"
	"github.com/stead-io/stead/internal/schedule"
	"github.com/stead-io/stead/internal/targets"
)

// Fields of an association spec that user input is parsed into before the
// spec exists (flags, a form), for ValidateParsed.
const (
	FieldTargets    = "targets"
	FieldParameters = "parameters"
)

// Validate returns every problem with the spec at once, in one line (a
// *problems.Error), or nil. Clients check a spec with it before they send
// it, and the association workflow checks what it is started or updated
// with, so every way in refuses the same input with the same message.
// Whether the document exists and takes the parameters needs the registry:
// docref.Check is that check.
func (s AssociationSpec) Validate() error { return s.ValidateParsed(nil) }

// ValidateParsed is Validate for a spec parsed from user input: the
// problems parsing found in a field (FieldTargets, FieldParameters) stand,
// in that field's place, for the field's own checks, which a half-parsed
// value would only confuse.
func (s AssociationSpec) ValidateParsed(parsed map[string][]error) error {
	var l problems.List
	l.Add(ValidAssociationName(s.Name))
	if errs, ok := parsed[FieldTargets]; ok {
		l.Add(errors.Join(errs...))
	} else {
		l.Add(targets.ValidateAll(s.Targets))
	}
	paramErrs, badParams := parsed[FieldParameters]
	l.Add(errors.Join(paramErrs...))
	// A built-in is checked here; a registered document needs the registry.
	if s.Document == "" {
		l.Addf("document: required (--document)")
	} else if name, _, err := documents.ParseRef(s.Document); err != nil {
		l.Add(err)
	} else if canonical, content, ok := documents.Builtin(name); ok && !badParams {
		if _, err := documents.Render(canonical, content, s.Parameters); err != nil {
			l.Add(fmt.Errorf("document %s: %w", canonical, err))
		}
	}
	expr, days := s.Schedule.Text()
	if sched, err := schedule.Parse(expr); err != nil {
		l.Add(err)
	} else if days != 0 {
		if _, err := sched.WithOffset(days); err != nil {
			l.Add(fmt.Errorf("schedule-offset: %w", err))
		}
	}
	if s.ApplyOnlyAtCronInterval && s.Schedule.Kind() != schedule.KindCron {
		l.Addf("apply-only-at-cron-interval: needs a cron(...) schedule")
	}
	if _, err := ratecontrol.Parse("max-concurrency", s.MaxConcurrency.String(), 1); err != nil {
		l.Add(err)
	}
	if _, err := ratecontrol.Parse("max-errors", s.MaxErrors.String(), 0); err != nil {
		l.Add(err)
	}
	if sev := s.ComplianceSeverity; sev != "" && !slices.Contains(ComplianceSeverities, strings.ToUpper(sev)) {
		l.Addf("compliance-severity %q: want one of %s", sev, strings.Join(ComplianceSeverities, ", "))
	}
	return l.Err()
}

// Normalized is the spec as it is stored: the compliance severity in upper
// case, however it was written.
func (s AssociationSpec) Normalized() AssociationSpec {
	s.ComplianceSeverity = strings.ToUpper(s.ComplianceSeverity)
	return s
}

// refusal is how a workflow refuses a request or its input: a
// non-retryable ApplicationError of a contract failure type
// (contract.FailureInvalid, ...) whose message is the line a client shows.
// An Invalid refusal carries its problems (a *problems.Error) in its
// details.
func refusal(failureType string, err error) error {
	opts := temporal.ApplicationErrorOptions{NonRetryable: true}
	msg := err.Error()
	if failureType == contract.FailureInvalid {
		var l problems.List
		l.Add(err)
		p := l.Err()
		opts.Details = []any{p}
		msg = p.Error()
	}
	return temporal.NewApplicationErrorWithOptions(msg, failureType, opts)
}

// refusef is refusal of a message.
func refusef(failureType, format string, args ...any) error {
	return refusal(failureType, fmt.Errorf(format, args...))
}

// checkNewSpec is what an association workflow does first with the spec
// it is started with: the checks a client makes before it creates one
// (Validate, then the document and parameters against the registry). It
// returns the spec to store; an input that cannot run is a refusal, which
// fails the workflow at once with the message the client would print.
func checkNewSpec(ctx workflow.Context, spec AssociationSpec) (AssociationSpec, error) {
	if err := spec.Validate(); err != nil {
		return spec, refusal(contract.FailureInvalid, err)
	}
	if err := spec.Schedule.CheckFires(workflow.Now(ctx)); err != nil {
		return spec, refusal(contract.FailureInvalid, err)
	}
	spec = spec.Normalized()
	var a *activities.Activities
	var ref string
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, controlOptions), a.CheckDocument,
		activities.PrepareInput{Document: spec.Document, Parameters: spec.Parameters}).Get(ctx, &ref)
	var invalid *temporal.ApplicationError
	if errors.As(err, &invalid) && invalid.Type() == activities.ErrInvalidDocument {
		return spec, refusal(contract.FailureInvalid, errors.New(invalid.Message()))
	}
	if err != nil {
		return spec, fmt.Errorf("check document %s: %w", spec.Document, err)
	}
	spec.Document = ref
	return spec, nil
}
