package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/client"
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
			&ucli.StringFlag{Name: "execution", Usage: "execution id (see association executions)", Required: true},
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
	// The output store is a local directory: nothing here connects.
	cl := client.New(client.Config{OutputDir: c.String("output-dir")})
	req := client.OutputRequest{Association: c.Args().First(), Execution: c.String("execution"), Node: c.String("node"),
		Step: c.String("step"), Stderr: c.Bool("stderr")}
	steps, err := cl.OutputSteps(req)
	if err != nil {
		return err
	}
	if len(steps) == 1 {
		req.Step = steps[0]
		return cl.WriteOutput(c.App.Writer, req)
	}
	stream := "stdout"
	if req.Stderr {
		stream = "stderr"
	}
	for _, s := range steps {
		req.Step = s
		fmt.Fprintf(c.App.Writer, "==> step %s (%s) <==\n", s, stream)
		if err := cl.WriteOutput(c.App.Writer, req); err != nil {
			return err
		}
	}
	return nil
}
