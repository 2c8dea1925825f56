package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/stead-io/stead/internal/outputstore"
)

// OutputRequest names the output to read: a node's steps in an execution,
// one step or all of them, stdout or stderr.
type OutputRequest struct {
	Association, Execution, Node string
	// Step is one step's name; "" means every step of the node.
	Step string
	// Stderr reads stderr instead of stdout.
	Stderr bool
}

// stream names the stream a request reads: its file extension and name.
func (r OutputRequest) stream() (ext, name string) {
	if r.Stderr {
		return outputstore.StderrExt, "stderr"
	}
	return outputstore.StdoutExt, "stdout"
}

// OutputSteps lists the steps whose full output the output store holds
// for the request's node (Config.OutputDir): the request's step alone if
// it names one, else every step, in name order. It needs no connection:
// the store is the directory of the worker that ran the steps.
func (c *Client) OutputSteps(r OutputRequest) ([]string, error) {
	if r.Step != "" {
		return []string{r.Step}, nil
	}
	store := outputstore.Store{Dir: c.cfg.OutputDir}
	key := outputstore.Key{Association: r.Association, Execution: r.Execution, Node: r.Node}
	ext, _ := r.stream()
	steps, err := store.Steps(key, ext)
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound(fmt.Sprintf("association output: no output of node %s in execution %s of %s under %s (it is kept where the worker that ran it stores output)", r.Node, r.Execution, r.Association, store.Dir), err)
	}
	if err != nil {
		return nil, fmt.Errorf("association output: %w", err)
	}
	return steps, nil
}

// WriteOutput copies the full output of one step (r.Step) from the output
// store to w.
func (c *Client) WriteOutput(w io.Writer, r OutputRequest) error {
	store := outputstore.Store{Dir: c.cfg.OutputDir}
	key := outputstore.Key{Association: r.Association, Execution: r.Execution, Node: r.Node, Step: r.Step}
	ext, stream := r.stream()
	path, err := store.Path(key, ext)
	if err != nil {
		return invalid(fmt.Errorf("association output: %w", err))
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return notFound(fmt.Sprintf("association output: no %s of step %s on node %s in execution %s of %s under %s", stream, key.Step, key.Node, key.Execution, key.Association, store.Dir), err)
	}
	if err != nil {
		return fmt.Errorf("association output: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("association output: print %s: %w", path, err)
	}
	return nil
}

// OutputURLs returns where the request's node's steps stored their full
// output when their worker stored it in an S3-compatible bucket (recorded
// in the execution's results): step name to s3:// location, holding the
// objects stdout and stderr. It is empty when the output went to the
// worker's own disk.
func (c *Client) OutputURLs(ctx context.Context, r OutputRequest) (map[string]string, error) {
	_, outs, err := c.TargetOutputs(ctx, r.Association, r.Execution)
	if err != nil {
		return nil, err
	}
	urls := map[string]string{}
	for _, o := range outs {
		if o.NodeID != r.Node {
			continue
		}
		for _, s := range o.Output {
			if s.OutputURL != "" && (r.Step == "" || s.Name == r.Step) {
				urls[s.Name] = s.OutputURL
			}
		}
	}
	return urls, nil
}

// WriteOutputURL copies one stream of a step stored at an s3:// location
// (from OutputURLs) to w, reading the bucket with the AWS SDK's usual
// configuration (outputstore.NewS3Client).
func (c *Client) WriteOutputURL(ctx context.Context, w io.Writer, location string, stderr bool) error {
	client, err := outputstore.NewS3Client(ctx)
	if err != nil {
		return fmt.Errorf("association output: %w", err)
	}
	_, stream := OutputRequest{Stderr: stderr}.stream()
	if err := outputstore.ReadURL(ctx, client, strings.TrimSuffix(location, "/")+"/"+stream, w); err != nil {
		return fmt.Errorf("association output: %w", err)
	}
	return nil
}
