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
// output store, with the step's secrets redacted: the bucket of OutputS3
// if the worker has one, else the directory OutputDir. Output that fits in
// the result is written from it; longer output is read back from the
// node's run directory, up to outputstore.MaxStreamBytes per stream. It
// returns where the output went when that is not the worker's own disk
// (an s3:// URL), and why it was not stored, if it was not. A store
// failure does not fail the step (its result is already safe in history):
// it is logged and reported in the result.
func (a *Activities) storeOutput(ctx context.Context, o output, in RunStepInput) (location, problem string) {
	if (a.OutputDir == "" && a.OutputS3 == nil) || in.AssociationName == "" || in.ExecutionID == "" {
		return "", ""
	}
	key := outputstore.Key{Association: in.AssociationName, Execution: in.ExecutionID, Node: in.NodeID, Step: in.Step.Name}
	put := func(ext, _ string, fill func(io.Writer) error) error {
		return outputstore.Store{Dir: a.OutputDir}.Write(key, ext, fill)
	}
	if a.OutputS3 != nil {
		url, err := a.OutputS3.URL(key)
		if err != nil {
			return "", err.Error()
		}
		location = url
		put = func(_, object string, fill func(io.Writer) error) error {
			return a.OutputS3.Write(ctx, key, object, fill)
		}
	}
	streams := []struct {
		name        runner.Stream
		ext, object string
		kept        string
		truncated   bool
	}{
		{runner.Stdout, outputstore.StdoutExt, outputstore.S3Stdout, o.run.Stdout, o.run.StdoutTruncated},
		{runner.Stderr, outputstore.StderrExt, outputstore.S3Stderr, o.run.Stderr, o.run.StderrTruncated},
	}
	var problems []string
	for _, s := range streams {
		err := put(s.ext, s.object, func(w io.Writer) error {
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
		return location, ""
	}
	msg := strings.Join(problems, "; ")
	activity.GetLogger(ctx).Warn("step output not stored", "node", in.NodeID, "step", in.Step.Name, "error", msg)
	return location, msg
}
