package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	ucli "github.com/urfave/cli/v2"
)

// printer writes a command's result as a table or as JSON.
type printer struct {
	w    io.Writer
	json bool
}

func newPrinter(c *ucli.Context) (*printer, error) {
	switch o := c.String("output"); o {
	case "table", "":
		return &printer{w: c.App.Writer}, nil
	case "json":
		return &printer{w: c.App.Writer, json: true}, nil
	default:
		return nil, fmt.Errorf("output %q: want table or json", o)
	}
}

// value prints v as indented JSON.
func (p *printer) value(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints a header and rows, aligned.
func (p *printer) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields prints "Key: value" lines, aligned.
func (p *printer) fields(kv [][2]string) error {
	tw := tabwriter.NewWriter(p.w, 0, 4, 1, ' ', 0)
	for _, f := range kv {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	return tw.Flush()
}

// when formats a time for tables: UTC, seconds, "-" when unset.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// count is n and noun, plural unless n is 1: "1 step", "3 steps".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// list prints records: as JSON, or as a table of header with the row that
// row makes of each record (by its index, as records may be of any type).
func list[T any](p *printer, records []T, header []string, row func(i int) []string) error {
	if p.json {
		return p.value(records)
	}
	rows := make([][]string, len(records))
	for i := range records {
		rows[i] = row(i)
	}
	return p.table(header, rows)
}
