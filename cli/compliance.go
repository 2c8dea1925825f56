package cli

import (
	"fmt"
	"strings"

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
					&ucli.StringFlag{Name: "type", Value: complianceAssociation, Usage: "Association (every association) or Patch (Stead-RunPatchBaseline's counts per node)"},
				}, append(connectFlags(), outputFlag)...),
				Action: complianceList,
			},
			{
				Name:  "summary",
				Usage: "counts by association and severity",
				Flags: append([]ucli.Flag{
					&ucli.StringFlag{Name: "type", Value: complianceAssociation, Usage: "Association (nodes by status) or Patch (Stead-RunPatchBaseline's counts summed per association)"},
				}, append(connectFlags(), outputFlag)...),
				Action: complianceSummary,
			},
		},
	}
}

// NodeCompliance is one element of `compliance list --output json`: one
// node's compliance with one association.
type NodeCompliance = client.NodeCompliance

// The compliance types, as SSM names them: an association's, and a patch
// baseline's with its counts.
const (
	complianceAssociation = "Association"
	compliancePatch       = "Patch"
)

// PatchCompliance is one element of `compliance list --type Patch --output
// json`: a node's patch counts for one association.
type PatchCompliance = client.PatchCompliance

// complianceType reads --type: whether patch counts are asked for.
func complianceType(c *ucli.Context) (patch bool, err error) {
	typ := c.String("type")
	if !strings.EqualFold(typ, complianceAssociation) && !strings.EqualFold(typ, compliancePatch) {
		return false, fmt.Errorf("--type %q: want %s or %s", typ, complianceAssociation, compliancePatch)
	}
	return strings.EqualFold(typ, compliancePatch), nil
}

func complianceList(c *ucli.Context) error {
	patch, err := complianceType(c)
	if err != nil {
		return err
	}
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	filter := client.ComplianceFilter{Node: c.String("node"), Association: c.String("association"), Status: c.String("status")}
	if patch {
		return patchComplianceList(c, p, cl, filter)
	}
	recs, err := cl.Compliance(c.Context, filter)
	if err != nil {
		return err
	}
	return list(p, recs, []string{"NODE", "ASSOCIATION", "STATUS", "SEVERITY", "EXECUTION", "AT"}, func(i int) []string {
		r := recs[i]
		return []string{r.NodeID, r.Association, r.Status, r.Severity, r.ExecutionID, when(r.At)}
	})
}

func patchComplianceList(c *ucli.Context, p *printer, cl *client.Client, filter client.ComplianceFilter) error {
	recs, err := cl.PatchCompliances(c.Context, filter)
	if err != nil {
		return err
	}
	header := []string{"NODE", "ASSOCIATION", "STATUS", "OPERATION", "INSTALLED", "INSTALLED_OTHER", "INSTALLED_REJECTED", "MISSING", "FAILED", "NOT_APPLICABLE", "EXECUTION", "AT"}
	return list(p, recs, header, func(i int) []string {
		r := recs[i]
		row := append([]string{r.NodeID, r.Association, r.Status, r.Operation}, r.Columns()...)
		return append(row, r.ExecutionID, when(r.At))
	})
}

// ComplianceCount is one element of `compliance summary --output json`:
// how many nodes are compliant with an association.
type ComplianceCount = client.ComplianceCount

// PatchCount is one element of `compliance summary --type Patch --output
// json`: an association's patch counts, summed over its nodes.
type PatchCount = client.PatchCount

func complianceSummary(c *ucli.Context) error {
	patch, err := complianceType(c)
	if err != nil {
		return err
	}
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	if patch {
		return patchSummary(c, p, cl)
	}
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

func patchSummary(c *ucli.Context, p *printer, cl *client.Client) error {
	counts, err := cl.PatchSummary(c.Context)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(counts)
	}
	rows := make([][]string, 0, len(counts))
	for _, k := range counts {
		rows = append(rows, append([]string{k.Association, fmt.Sprint(k.Nodes), fmt.Sprint(k.Compliant), fmt.Sprint(k.NonCompliant)}, k.Columns()...))
	}
	return p.table([]string{"ASSOCIATION", "NODES", "COMPLIANT", "NON_COMPLIANT", "INSTALLED", "INSTALLED_OTHER", "INSTALLED_REJECTED", "MISSING", "FAILED", "NOT_APPLICABLE"}, rows)
}
