package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/documents"
)

func documentCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "document",
		Usage: "inspect the documents associations run",
		Subcommands: []*ucli.Command{
			{
				Name:  "list",
				Usage: "list the built-in documents",
				Flags: []ucli.Flag{outputFlag},
				Action: func(c *ucli.Context) error {
					p, err := newPrinter(c)
					if err != nil {
						return err
					}
					names := documents.BuiltinNames()
					if p.json {
						return p.value(names)
					}
					rows := make([][]string, 0, len(names))
					for _, n := range names {
						rows = append(rows, []string{n})
					}
					return p.table([]string{"NAME"}, rows)
				},
			},
			{
				Name:      "describe",
				Usage:     "print a document's content",
				ArgsUsage: "NAME",
				Action: func(c *ucli.Context) error {
					name, err := oneArg(c, "NAME")
					if err != nil {
						return err
					}
					_, content, ok := documents.Builtin(name)
					if !ok {
						return fmt.Errorf("document %s not found", name)
					}
					_, err = c.App.Writer.Write(content)
					return err
				},
			},
		},
	}
}
