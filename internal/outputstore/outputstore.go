// Package outputstore keeps the full output of every step, beyond the
// first characters that workflow history holds, in a local directory laid
// out as <dir>/<association>/<execution>/<node>/<step>.stdout|.stderr.
//
// The store is a plain directory so that operators can read, back up and
// prune it with the usual tools; it lives on the worker that ran the step,
// so `stead association output` runs where that directory is.
package outputstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MaxStreamBytes is the most of one stream a step keeps in the store:
// 100 MiB. Past it the stored copy is cut, so a runaway step cannot fill
// the worker's disk.
const MaxStreamBytes = 100 << 20

// Stream file suffixes.
const (
	StdoutExt = ".stdout"
	StderrExt = ".stderr"
)

// Key names one step's output on one node in one execution.
type Key struct {
	Association, Execution, Node, Step string
}

// Store is an output directory.
type Store struct {
	// Dir is the store's root directory.
	Dir string
}

// validate rejects key parts that would leave their directory level.
func (k Key) validate(withStep bool) error {
	parts := []struct{ what, v string }{{"association", k.Association}, {"execution", k.Execution}, {"node", k.Node}}
	if withStep {
		parts = append(parts, struct{ what, v string }{"step", k.Step})
	}
	var errs []error
	for _, p := range parts {
		if p.v == "" || p.v == "." || p.v == ".." || strings.ContainsAny(p.v, "/\\\x00") {
			errs = append(errs, fmt.Errorf("%s %q is not a valid name in the output store", p.what, p.v))
		}
	}
	return errors.Join(errs...)
}

// NodeDir is the directory holding a node's step outputs for an execution.
func (s Store) NodeDir(k Key) (string, error) {
	if err := k.validate(false); err != nil {
		return "", err
	}
	return filepath.Join(s.Dir, k.Association, k.Execution, k.Node), nil
}

// Path is the file of one stream (StdoutExt or StderrExt) of a step.
func (s Store) Path(k Key, ext string) (string, error) {
	if err := k.validate(true); err != nil {
		return "", err
	}
	return filepath.Join(s.Dir, k.Association, k.Execution, k.Node, k.Step+ext), nil
}

// Write stores one stream of a step, replacing what an earlier attempt
// stored. fill writes the content; the file appears complete or not at
// all, so a reader never sees half of it.
func (s Store) Write(k Key, ext string, fill func(io.Writer) error) error {
	path, err := s.Path(k, ext)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+k.Step+ext+"-*")
	if err != nil {
		return fmt.Errorf("create output file: %w", err)
	}
	defer os.Remove(f.Name())
	if err := fill(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	return nil
}

// Steps lists the steps of a node in an execution that have output of
// the stream ext, in name order.
func (s Store) Steps(k Key, ext string) ([]string, error) {
	dir, err := s.NodeDir(k)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read output of node %s in execution %s: %w", k.Node, k.Execution, err)
	}
	var steps []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ext); ok && !e.IsDir() && !strings.HasPrefix(name, ".tmp-") {
			steps = append(steps, name)
		}
	}
	slices.Sort(steps)
	return steps, nil
}
