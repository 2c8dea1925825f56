package cli

import (
	"fmt"
	"slices"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/targets"
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

// NodeCompliance is one node's compliance with one association.
type NodeCompliance struct {
	NodeID string `json:"nodeId"`
	contract.ComplianceRecord
}

// readCompliance lists the compliance records of registered nodes, read
// from the node workflows' memos, filtered as the flags ask.
func readCompliance(c *ucli.Context, cn *conn) ([]NodeCompliance, error) {
	var ts []targets.Target
	if id := c.String("node"); id != "" {
		if err := node.ValidID(id); err != nil {
			return nil, err
		}
		ts = []targets.Target{{Key: targets.KeyInstanceIDs, Values: []string{id}}}
	}
	status := strings.ToUpper(c.String("status"))
	if status != "" && status != contract.Compliant && status != contract.NonCompliant {
		return nil, fmt.Errorf("status %q: want COMPLIANT or NON_COMPLIANT", c.String("status"))
	}
	q, err := targets.NodeQuery(ts)
	if err != nil {
		return nil, err
	}
	out := []NodeCompliance{}
	var token []byte
	for {
		resp, err := cn.client.ListWorkflow(c.Context, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: cn.namespace, Query: q, PageSize: node.ListPageSize, NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		for _, e := range resp.Executions {
			fields := e.GetMemo().GetFields()
			var n node.Node
			var recs []contract.ComplianceRecord
			if fields[contract.NodeMemoKey] == nil || fields[contract.ComplianceMemoKey] == nil {
				continue
			}
			if err := cn.dc.FromPayload(fields[contract.NodeMemoKey], &n); err != nil {
				return nil, fmt.Errorf("decode node %s: %w", e.GetExecution().GetWorkflowId(), err)
			}
			if err := cn.dc.FromPayload(fields[contract.ComplianceMemoKey], &recs); err != nil {
				return nil, fmt.Errorf("decode compliance of %s: %w", n.ID, err)
			}
			for _, r := range recs {
				if a := c.String("association"); a != "" && r.Association != a {
					continue
				}
				if status != "" && r.Status != status {
					continue
				}
				out = append(out, NodeCompliance{NodeID: n.ID, ComplianceRecord: r})
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			break
		}
	}
	slices.SortFunc(out, func(a, b NodeCompliance) int {
		return strings.Compare(a.NodeID+"\x00"+a.Association, b.NodeID+"\x00"+b.Association)
	})
	return out, nil
}

func complianceList(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	recs, err := readCompliance(c, cn)
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

// ComplianceCount is how many nodes are compliant with an association.
type ComplianceCount struct {
	Association  string `json:"association"`
	Severity     string `json:"severity"`
	Compliant    int    `json:"compliant"`
	NonCompliant int    `json:"nonCompliant"`
}

func complianceSummary(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	recs, err := readCompliance(c, cn)
	if err != nil {
		return err
	}
	counts := []ComplianceCount{}
	for _, r := range recs {
		i := slices.IndexFunc(counts, func(k ComplianceCount) bool { return k.Association == r.Association && k.Severity == r.Severity })
		if i < 0 {
			counts = append(counts, ComplianceCount{Association: r.Association, Severity: r.Severity})
			i = len(counts) - 1
		}
		if r.Status == contract.Compliant {
			counts[i].Compliant++
		} else {
			counts[i].NonCompliant++
		}
	}
	slices.SortFunc(counts, func(a, b ComplianceCount) int {
		return strings.Compare(a.Association+"\x00"+a.Severity, b.Association+"\x00"+b.Severity)
	})
	if p.json {
		return p.value(counts)
	}
	rows := make([][]string, 0, len(counts))
	for _, k := range counts {
		rows = append(rows, []string{k.Association, k.Severity, fmt.Sprint(k.Compliant), fmt.Sprint(k.NonCompliant)})
	}
	return p.table([]string{"ASSOCIATION", "SEVERITY", "COMPLIANT", "NON_COMPLIANT"}, rows)
}
