package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.temporal.io/sdk/activity"

	"github.com/stead-io/stead/internal/outputstore"
	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/secrets"
	"github.com/stead-io/stead/internal/transport"
)

// output is where a finished step's full output is: its run, on the node
// behind conn, which runner reads; redact hides the step's secrets in it.
type output struct {
	runner runner.Runner
	conn   transport.Communicator
	redact *secrets.Redactor
	run    runner.Result
}

// storeOutput copies a finished step's full stdout and stderr to the
// output store, with the step's secrets redacted. Output that fits in the
// result is written from it; longer output is read back from the node's
// run directory, up to outputstore.MaxStreamBytes per stream. A store
// failure does not fail the step (its result is already safe in history):
// it is logged and reported in the result.
func (a *Activities) storeOutput(ctx context.Context, o output, in RunStepInput) string {
	if a.OutputDir == "" || in.AssociationName == "" || in.ExecutionID == "" {
		return ""
	}
	store := outputstore.Store{Dir: a.OutputDir}
	key := outputstore.Key{Association: in.AssociationName, Execution: in.ExecutionID, Node: in.NodeID, Step: in.Step.Name}
	streams := []struct {
		name      runner.Stream
		ext, kept string
		truncated bool
	}{
		{runner.Stdout, outputstore.StdoutExt, o.run.Stdout, o.run.StdoutTruncated},
		{runner.Stderr, outputstore.StderrExt, o.run.Stderr, o.run.StderrTruncated},
	}
	var problems []string
	for _, s := range streams {
		err := store.Write(key, s.ext, func(w io.Writer) error {
			w, flush := redacting(o.redact, w)
			if !s.truncated {
				_, err := io.WriteString(w, s.kept)
				return errors.Join(err, flush())
			}
			written, size, err := o.runner.Fetch(ctx, o.conn, in.RunID, s.name, outputstore.MaxStreamBytes, w)
			if err == nil && written < size {
				activity.GetLogger(ctx).Warn("step output cut in the output store", "node", in.NodeID, "step", in.Step.Name, "stream", s.name, "bytes", size, "kept", written)
			}
			return errors.Join(err, flush())
		})
		if err != nil {
			problems = append(problems, fmt.Sprintf("store %s: %v", s.name, err))
		}
	}
	if len(problems) == 0 {
		return ""
	}
	msg := strings.Join(problems, "; ")
	activity.GetLogger(ctx).Warn("step output not stored", "node", in.NodeID, "step", in.Step.Name, "error", msg)
	return msg
}
