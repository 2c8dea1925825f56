package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/client"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/audit"
	"github.com/stead-io/stead/internal/problems"
)

// maxRequestColumn bounds the request parameters a table row shows; the
// JSON output and the export carry them whole.
const maxRequestColumn = 120

func auditCommand() *ucli.Command {
	sinceFlag := &ucli.StringFlag{Name: "since", Usage: "only changes since this long ago (90m, 24h, 7d) or this time (RFC 3339)"}
	return &ucli.Command{
		Name:  "audit",
		Usage: "the audit log: every change made to associations, documents and nodes, who made it and its result, in a hash chain",
		Subcommands: []*ucli.Command{
			{
				Name:  "list",
				Usage: "list changes, oldest first",
				Flags: append([]ucli.Flag{
					sinceFlag,
					&ucli.StringFlag{Name: "resource", Usage: "only changes of this resource: KIND/NAME or KIND (association, document, node)"},
					outputFlag,
				}, connectFlags()...),
				Action: auditList,
			},
			{
				Name:  "export",
				Usage: "print the log as CloudTrail-shaped JSON lines, one record a line, for archives and `audit verify --file`",
				Flags: append([]ucli.Flag{sinceFlag}, connectFlags()...),
				Action: func(c *ucli.Context) error {
					since, err := parseSince(c.String("since"), time.Now())
					if err != nil {
						return err
					}
					cl := newClient(c)
					defer cl.Close()
					records, err := cl.AuditRecords(c.Context, client.AuditFilter{Since: since})
					if err != nil {
						return err
					}
					return audit.WriteExport(c.App.Writer, records)
				},
			},
			{
				Name:  "verify",
				Usage: "check the hash chain of the live log, or of an export with --file; names the first broken record",
				Flags: append([]ucli.Flag{
					&ucli.StringFlag{Name: "file", Usage: "check this export (stead audit export) instead of the live log"},
				}, connectFlags()...),
				Action: auditVerify,
			},
		},
	}
}

func auditList(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	since, err := parseSince(c.String("since"), time.Now())
	if err != nil {
		return err
	}
	f := client.AuditFilter{Since: since}
	if r := c.String("resource"); r != "" {
		f.ResourceType, f.ResourceName, _ = strings.Cut(r, "/")
		if !slices.Contains(client.AuditResourceTypes, f.ResourceType) {
			return fmt.Errorf("resource %q: want KIND/NAME or KIND, KIND one of %s", r, strings.Join(client.AuditResourceTypes, ", "))
		}
	}
	cl := newClient(c)
	defer cl.Close()
	records, err := cl.AuditRecords(c.Context, f)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(records)
	}
	rows := make([][]string, len(records))
	for i, r := range records {
		rows[i] = []string{strconv.FormatInt(r.Sequence, 10), when(r.EventTime), who(r.UserIdentity), orDash(r.SourceHost),
			r.EventName, resources(r.Resources), result(r), problems.Clip(string(r.Request), maxRequestColumn)}
	}
	return p.table([]string{"SEQ", "TIME", "WHO", "FROM", "OPERATION", "RESOURCE", "RESULT", "REQUEST"}, rows)
}

func auditVerify(c *ucli.Context) error {
	w := c.App.Writer
	if file := c.String("file"); file != "" {
		fh, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("audit verify: %w", err)
		}
		defer fh.Close()
		records, err := audit.ParseExport(fh)
		if err != nil {
			return err
		}
		if len(records) == 0 {
			return fmt.Errorf("audit verify: %s holds no records", file)
		}
		tail := records[0].Sequence != 1
		if err := audit.Verify(records, tail); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		fmt.Fprintf(w, "%s: %d records (sequence %d-%d), chain intact\n", file, len(records), records[0].Sequence, records[len(records)-1].Sequence)
		if tail {
			fmt.Fprintf(w, "the file begins at sequence %d: the records before it, and that its first record follows them, were not checked\n", records[0].Sequence)
		}
		return nil
	}
	cl := newClient(c)
	defer cl.Close()
	n, err := cl.VerifyAuditLog(c.Context)
	var broken *audit.BrokenError
	if errors.As(err, &broken) {
		return fmt.Errorf("audit log: %w", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "audit log: %d records, chain intact\n", n)
	return nil
}

// parseSince reads --since: a duration before now (Go's units, and d
// for days), or a time in RFC 3339. Empty means no bound.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		var n int
		if n, err = strconv.Atoi(days); err == nil {
			d = time.Duration(n) * 24 * time.Hour
		}
	}
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("since %q: want a duration (90m, 24h, 7d) or a time (2026-01-02T15:04:05Z)", s)
	}
	return now.Add(-d), nil
}

// who names a record's identity for a table.
func who(id contract.AuditIdentity) string {
	if id.Type == contract.IdentityNone {
		return id.PrincipalID
	}
	name := id.UserName
	if id.CertificateSubject != "" {
		name += " (" + id.CertificateSubject + ")"
	}
	return name
}

// resources names a record's resources as KIND/NAME.
func resources(rs []contract.AuditResource) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Type + "/" + r.Name
	}
	return strings.Join(names, ",")
}

// result is "ok", or the error code and message of a change that failed.
func result(r contract.AuditRecord) string {
	if r.ErrorCode == "" {
		return "ok"
	}
	return problems.Clip(r.ErrorCode+": "+r.ErrorMessage, maxRequestColumn)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
