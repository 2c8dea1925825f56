package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/internal/outputstore"
)

// defaultOutputDir is the output store of `stead worker` and of
// `association output` when --output-dir is not given: the same path as
// `stead dev`'s default (<data-dir>/output with data-dir .stead), so the
// commands agree when run from one directory.
const defaultOutputDir = ".stead/output"

// outputDir is the output store a worker writes to: --output-dir if given,
// else <data-dir>/output on `stead dev`, else defaultOutputDir.
func outputDir(c *ucli.Context) string {
	if !c.IsSet("output-dir") {
		for _, name := range c.FlagNames() {
			if name == "data-dir" {
				return filepath.Join(c.String("data-dir"), "output")
			}
		}
	}
	return c.String("output-dir")
}

func associationOutputCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "output",
		Usage: "print the full output of a node's steps in an execution, from the output store",
		Description: "Workers keep each step's full stdout and stderr in their output store, a local directory " +
			"(--output-dir of `stead worker`, <data-dir>/output of `stead dev`); history keeps only the first " +
			"24,000 and 8,000 characters. This command reads that directory, so run it on the machine (or a " +
			"mount of the directory) where the worker that ran the step stores its output.",
		ArgsUsage: "NAME",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "execution", Usage: "execution id (see `association executions`)", Required: true},
			&ucli.StringFlag{Name: "node", Usage: "node id", Required: true},
			&ucli.StringFlag{Name: "step", Usage: "step name; default: every step of the node, in name order, each under a header"},
			&ucli.StringFlag{Name: "output-dir", Usage: "the worker's output store", Value: defaultOutputDir},
			&ucli.BoolFlag{Name: "stderr", Usage: "print stderr instead of stdout"},
		},
		Action: associationOutput,
	}
}

func associationOutput(c *ucli.Context) error {
	if c.NArg() != 1 {
		return errors.New("association output: want exactly one association NAME")
	}
	store := outputstore.Store{Dir: c.String("output-dir")}
	key := outputstore.Key{Association: c.Args().First(), Execution: c.String("execution"), Node: c.String("node"), Step: c.String("step")}
	ext, stream := outputstore.StdoutExt, "stdout"
	if c.Bool("stderr") {
		ext, stream = outputstore.StderrExt, "stderr"
	}
	if key.Step != "" {
		return printStored(c.App.Writer, store, key, ext, stream)
	}
	steps, err := store.Steps(key, ext)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("association output: no output of node %s in execution %s of %s under %s (it is kept where the worker that ran it stores output)", key.Node, key.Execution, key.Association, store.Dir)
	}
	if err != nil {
		return fmt.Errorf("association output: %w", err)
	}
	if len(steps) == 1 {
		key.Step = steps[0]
		return printStored(c.App.Writer, store, key, ext, stream)
	}
	for _, s := range steps {
		key.Step = s
		fmt.Fprintf(c.App.Writer, "==> step %s (%s) <==\n", s, stream)
		if err := printStored(c.App.Writer, store, key, ext, stream); err != nil {
			return err
		}
	}
	return nil
}

// printStored copies one stored stream to w.
func printStored(w io.Writer, store outputstore.Store, key outputstore.Key, ext, stream string) error {
	path, err := store.Path(key, ext)
	if err != nil {
		return fmt.Errorf("association output: %w", err)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("association output: no %s of step %s on node %s in execution %s of %s under %s", stream, key.Step, key.Node, key.Execution, key.Association, store.Dir)
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
