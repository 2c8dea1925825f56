package activities

import (
	"errors"
	"fmt"
	"io"

	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/secrets"
)

// ErrSecretNotFound is the failure type of a step whose {{ssm-secure:NAME}} reference
// names a secret the worker does not hold. Retrying cannot help: the worker's secrets
// are read when it starts.
const ErrSecretNotFound = "SecretNotFound"

// SecretSource looks up the values {{ssm-secure:NAME}} references stand for;
// *secrets.Store implements it.
type SecretSource interface {
	Lookup(name string) (string, bool)
}

// stepEnv is the environment a step runs with: a {{ssm-secure:NAME}} value is replaced
// by the worker's secret NAME here, and nowhere earlier, so that only the node sees it.
// The redactor hides every secret value of the step (resolved, or given to a parameter
// declared secret) in what the step returns.
func (a *Activities) stepEnv(in RunStepInput) ([]runner.EnvVar, *secrets.Redactor, error) {
	env := make([]runner.EnvVar, len(in.Step.Env))
	var hidden []string
	for i, e := range in.Step.Env {
		value := e.Value
		if name, ok := documents.SecretRef(e.Value); ok {
			var found bool
			if a.Secrets != nil {
				value, found = a.Secrets.Lookup(name)
			}
			if !found {
				return nil, nil, temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("secret %s is not defined on this worker (give it with --secrets-file or %s%s)", name, secrets.EnvPrefix, name),
					ErrSecretNotFound, nil)
			}
			hidden = append(hidden, value)
		} else if e.Secret {
			hidden = append(hidden, value)
		}
		env[i] = runner.EnvVar{Name: e.Name, Value: value}
	}
	return env, secrets.NewRedactor(hidden), nil
}

// redactOutput replaces the step's secret values in its captured output with ***,
// before the result leaves the activity for Temporal's history.
func redactOutput(r *secrets.Redactor, res *StepResult) {
	if r.Empty() {
		return
	}
	res.Stdout = redactStream(r, res.Stdout, res.StdoutTruncated)
	res.Stderr = redactStream(r, res.Stderr, res.StderrTruncated)
}

func redactStream(r *secrets.Redactor, s string, truncated bool) string {
	if truncated {
		return r.Truncated(s)
	}
	return r.String(s)
}

// redactError returns err with the step's secret values replaced by ***, keeping an
// application error's type and retryability, which workflows branch on. The worker
// logs the error and history records it, so it must not carry a value.
func redactError(r *secrets.Redactor, err error) error {
	if err == nil || !r.Contains(err.Error()) {
		return err
	}
	msg := r.String(err.Error())
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if app.NonRetryable() {
			return temporal.NewNonRetryableApplicationError(msg, app.Type(), nil)
		}
		return temporal.NewApplicationError(msg, app.Type())
	}
	return errors.New(msg)
}

// redacting is w with the step's secret values replaced by *** as the
// output streams through, and the func that passes on what it held back
// once the stream is over. A step without secrets writes to w directly.
func redacting(r *secrets.Redactor, w io.Writer) (io.Writer, func() error) {
	if r.Empty() {
		return w, func() error { return nil }
	}
	rw := r.Writer(w)
	return rw, rw.Flush
}
