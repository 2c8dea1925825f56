package activities

import (
	"context"
	"fmt"
	"io"
	"strings"

	"go.temporal.io/sdk/activity"

	"github.com/stead-io/stead/internal/detached"
	"github.com/stead-io/stead/internal/outputstore"
	"github.com/stead-io/stead/internal/transport"
)

// storeOutput copies a finished step's full stdout and stderr to the
// output store. Output that fits in the result is written from it; longer
// output is read back from the node's run directory over conn, up to
// outputstore.MaxStreamBytes per stream. A store failure does not fail the
// step (its result is already safe in history): it is logged and reported
// in the result.
func (a *Activities) storeOutput(ctx context.Context, conn transport.Conn, in RunStepInput, r detached.Result) string {
	if a.OutputDir == "" || in.AssociationName == "" || in.ExecutionID == "" {
		return ""
	}
	store := outputstore.Store{Dir: a.OutputDir}
	key := outputstore.Key{Association: in.AssociationName, Execution: in.ExecutionID, Node: in.NodeID, Step: in.Step.Name}
	streams := []struct {
		name, ext, kept string
		truncated       bool
	}{
		{detached.Stdout, outputstore.StdoutExt, r.Stdout, r.StdoutTruncated},
		{detached.Stderr, outputstore.StderrExt, r.Stderr, r.StderrTruncated},
	}
	var problems []string
	for _, s := range streams {
		err := store.Write(key, s.ext, func(w io.Writer) error {
			if !s.truncated {
				_, err := io.WriteString(w, s.kept)
				return err
			}
			written, size, err := detached.Fetch(ctx, conn, in.RunID, s.name, outputstore.MaxStreamBytes, w)
			if err == nil && written < size {
				activity.GetLogger(ctx).Warn("step output cut in the output store", "node", in.NodeID, "step", in.Step.Name, "stream", s.name, "bytes", size, "kept", written)
			}
			return err
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
