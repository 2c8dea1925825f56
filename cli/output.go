package cli

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

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
func outputDir(c *ucli.Context) string { return workerDir(c, "output-dir", "output") }

// workerDir is a worker's directory given by flag: the flag if set, else
// <data-dir>/sub on a command with a data directory (`stead dev`), else
// the flag's default.
func workerDir(c *ucli.Context, flag, sub string) string {
	if !c.IsSet(flag) {
		for _, name := range c.FlagNames() {
			if name == "data-dir" {
				return filepath.Join(c.String("data-dir"), sub)
			}
		}
	}
	return c.String(flag)
}

func associationOutputCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "output",
		Usage: "print the full output of a node's steps in an execution, from the output store",
		Description: "Workers keep each step's full stdout and stderr in their output store: an S3-compatible bucket " +
			"(--output-url of `stead worker`), or a local directory (--output-dir of `stead worker`, <data-dir>/output " +
			"of `stead dev`); history keeps only the first 24,000 and 8,000 characters. This command reads the " +
			"execution's results to find where each step's output went: a bucket is read from any machine with " +
			"access (AWS SDK configuration: AWS_ENDPOINT_URL_S3, AWS_S3_USE_PATH_STYLE, credentials, profile), a " +
			"directory on the machine (or a mount of it) where the worker stores its output. With --output-dir, " +
			"only that directory is read, without connecting to Temporal.",
		ArgsUsage: "NAME",
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "execution", Usage: "execution id (see association executions)", Required: true},
			&ucli.StringFlag{Name: "node", Usage: "node id", Required: true},
			&ucli.StringFlag{Name: "step", Usage: "step name; default: every step of the node, in name order, each under a header"},
			&ucli.StringFlag{Name: "output-dir", Usage: "the worker's output store", Value: defaultOutputDir},
			&ucli.BoolFlag{Name: "stderr", Usage: "print stderr instead of stdout"},
		}, connectFlags()...),
		Action: associationOutput,
	}
}

func associationOutput(c *ucli.Context) error {
	if c.NArg() != 1 {
		return errors.New("association output: want exactly one association NAME")
	}
	cl := newClient(c)
	defer cl.Close()
	req := client.OutputRequest{Association: c.Args().First(), Execution: c.String("execution"), Node: c.String("node"),
		Step: c.String("step"), Stderr: c.Bool("stderr")}
	if !c.IsSet("output-dir") {
		urls, err := cl.OutputURLs(c.Context, req)
		if err != nil {
			return err
		}
		if len(urls) > 0 {
			return printStored(c, req, slices.Sorted(maps.Keys(urls)), func(step string) error {
				return cl.WriteOutputURL(c.Context, c.App.Writer, urls[step], req.Stderr)
			})
		}
	}
	steps, err := cl.OutputSteps(req)
	if err != nil {
		return err
	}
	return printStored(c, req, steps, func(step string) error {
		r := req
		r.Step = step
		return cl.WriteOutput(c.App.Writer, r)
	})
}

// printStored prints the stored output of steps with write: one step's
// alone, several each under a header.
func printStored(c *ucli.Context, req client.OutputRequest, steps []string, write func(step string) error) error {
	if len(steps) == 1 {
		return write(steps[0])
	}
	stream := "stdout"
	if req.Stderr {
		stream = "stderr"
	}
	for _, s := range steps {
		fmt.Fprintf(c.App.Writer, "==> step %s (%s) <==\n", s, stream)
		if err := write(s); err != nil {
			return err
		}
	}
	return nil
}
