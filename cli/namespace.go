package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
)

func namespaceCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "namespace",
		Usage: "prepare a Temporal namespace for Stead",
		Subcommands: []*ucli.Command{
			{
				Name:  "setup",
				Usage: "create the namespace if missing, set its retention and register every Stead search attribute; safe to run again",
				Description: "Runs against any Temporal server with the same connection flags as every command " +
					"(TEMPORAL_* variables and profiles too). The caller needs the rights to register namespaces " +
					"and add search attributes. An attribute already registered under another type is reported, never changed.",
				Flags: append(connectFlags(),
					&ucli.StringFlag{Name: "retention", Usage: "how long closed histories are kept, e.g. 30d or 72h; without it a new namespace gets 30d and an existing one keeps its own"},
					outputFlag,
				),
				Action: namespaceSetup,
			},
		},
	}
}

func namespaceSetup(c *ucli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("namespace setup: takes no arguments, got %q (name the namespace with --namespace)", c.Args().First())
	}
	var retention time.Duration
	if s := c.String("retention"); s != "" {
		var err error
		if retention, err = parseRetention(s); err != nil {
			return err
		}
	}
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	rep, err := cl.SetupNamespace(c.Context, retention)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(rep)
	}
	state := "exists"
	switch {
	case rep.Created:
		state = "created"
	case rep.RetentionChanged:
		state = "exists, retention changed"
	}
	added := "none"
	if len(rep.Added) > 0 {
		added = strings.Join(rep.Added, ", ")
	}
	return p.fields([][2]string{
		{"Namespace", rep.Namespace + " (" + state + ")"},
		{"Retention", days(rep.Retention)},
		{"Search attributes added", added},
		{"Search attributes present", strconv.Itoa(len(rep.Present))},
	})
}

// parseRetention reads a retention as whole days ("30d") or a Go duration ("72h").
func parseRetention(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("retention %q: want a positive number of days such as 30d, or a duration such as 72h", s)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("retention %q: want a positive number of days such as 30d, or a duration such as 72h", s)
	}
	return d, nil
}

// days prints a retention in days when it is whole days.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}
