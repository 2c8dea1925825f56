package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/internal/problems"
)

// Version is the stead version, set at build time.
var Version = "dev"

// New builds the stead command line writing to stdout and stderr.
func New(stdout, stderr io.Writer) *ucli.App {
	return &ucli.App{
		Name:                 "stead",
		Usage:                "keep Linux and Windows hosts in the state you define, durably, on Temporal",
		Version:              Version,
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		Suggest:              true,
		EnableBashCompletion: true,
		// --targets values carry commas of their own.
		DisableSliceFlagSeparator: true,
		// Errors are printed once, by Run.
		ExitErrHandler: func(*ucli.Context, error) {},
		Commands: []*ucli.Command{
			devCommand(),
			workerCommand(),
			nodeCommand(),
			associationCommand(),
			documentCommand(),
			keyCommand(),
			codecServerCommand(),
			complianceCommand(),
			namespaceCommand(),
			inventoryCommand(),
			eventsCommand(),
			auditCommand(),
		},
	}
}

// maxErrorBytes bounds the one line an error is printed as: past it the
// line says how much it left out.
const maxErrorBytes = 4000

// Run runs the command line and returns the process exit code: 0 on
// success, 1 on an error (printed as one line to stderr).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return RunWithInput(ctx, args, os.Stdin, stdout, stderr)
}

// RunWithInput is Run with the standard input given, for commands that ask
// before they act (node trust).
func RunWithInput(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := New(stdout, stderr)
	app.Reader = stdin
	err := app.RunContext(ctx, flagsFirst(app, args))
	if err == nil {
		return 0
	}
	var exit ucli.ExitCoder
	if errors.As(err, &exit) && exit.Error() == "" {
		return exit.ExitCode()
	}
	fmt.Fprintln(stderr, "stead: "+problems.Clip(problems.OneLine(err.Error()), maxErrorBytes))
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	return 1
}
