package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"
)

func associationStopCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "stop",
		Usage:     "pause an association: nothing runs (no schedule, new node or manual run) until resume; a running execution is cancelled and its commands killed",
		ArgsUsage: "NAME",
		Flags:     connectFlags(),
		Action: func(c *ucli.Context) error {
			name, err := oneArg(c, "NAME")
			if err != nil {
				return err
			}
			cl := newClient(c)
			defer cl.Close()
			st, err := cl.StopAssociation(c.Context, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "association %s stopped (%s); association resume %s runs it again\n", name, st.DetailedStatus, name)
			return nil
		},
	}
}

func associationResumeCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "resume",
		Usage:     "resume a stopped association: it runs at its next schedule slot, once, without catching up the slots it missed",
		ArgsUsage: "NAME",
		Flags:     connectFlags(),
		Action: func(c *ucli.Context) error {
			name, err := oneArg(c, "NAME")
			if err != nil {
				return err
			}
			cl := newClient(c)
			defer cl.Close()
			st, err := cl.ResumeAssociation(c.Context, name)
			if err != nil {
				return err
			}
			next := "none (no schedule; association start runs it)"
			if !st.NextRunAt.IsZero() {
				next = when(st.NextRunAt)
			}
			fmt.Fprintf(c.App.Writer, "association %s resumed; next run: %s\n", name, next)
			return nil
		},
	}
}

func associationCancelCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "cancel",
		Usage:     "cancel one execution of an association: nodes not started are not, running commands are killed; the association goes on",
		ArgsUsage: "NAME",
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "execution", Usage: "execution id (see association executions)", Required: true},
		}, connectFlags()...),
		Action: func(c *ucli.Context) error {
			name, err := oneArg(c, "NAME")
			if err != nil {
				return err
			}
			cl := newClient(c)
			defer cl.Close()
			if err := cl.CancelExecution(c.Context, name, c.String("execution")); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "execution %s of association %s cancelled\n", c.String("execution"), name)
			return nil
		},
	}
}
