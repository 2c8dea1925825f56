package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/client"
)

func complianceCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "compliance",
		Usage: "which nodes are in the state their associations define",
		Subcommands: []*ucli.Command{
			{
				Name:  "list",
				Usage: "compliance per node and association",
				Flags: append([]ucli.Flag{
					&ucli.StringFlag{Name: "node", Usage: "only this node"},
					&ucli.StringFlag{Name: "association", Usage: "only this association"},
					&ucli.StringFlag{Name: "status", Usage: "only COMPLIANT or NON_COMPLIANT"},
				}, append(connectFlags(), outputFlag)...),
				Action: complianceList,
			},
			{
				Name:   "summary",
				Usage:  "counts by association and severity",
				Flags:  append(connectFlags(), outputFlag),
				Action: complianceSummary,
			},
		},
	}
}

// NodeCompliance is one element of `compliance list --output json`: one
// node's compliance with one association.
type NodeCompliance = client.NodeCompliance

func complianceList(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	recs, err := cl.Compliance(c.Context, client.ComplianceFilter{Node: c.String("node"), Association: c.String("association"), Status: c.String("status")})
	if err != nil {
		return err
	}
	if p.json {
		return p.value(recs)
	}
	rows := make([][]string, 0, len(recs))
	for _, r := range recs {
		rows = append(rows, []string{r.NodeID, r.Association, r.Status, r.Severity, r.ExecutionID, when(r.At)})
	}
	return p.table([]string{"NODE", "ASSOCIATION", "STATUS", "SEVERITY", "EXECUTION", "AT"}, rows)
}

// ComplianceCount is one element of `compliance summary --output json`:
// how many nodes are compliant with an association.
type ComplianceCount = client.ComplianceCount

func complianceSummary(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	counts, err := cl.ComplianceSummary(c.Context)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(counts)
	}
	rows := make([][]string, 0, len(counts))
	for _, k := range counts {
		rows = append(rows, []string{k.Association, k.Severity, fmt.Sprint(k.Compliant), fmt.Sprint(k.NonCompliant)})
	}
	return p.table([]string{"ASSOCIATION", "SEVERITY", "COMPLIANT", "NON_COMPLIANT"}, rows)
}
