package client

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stead-io/stead/contract"
)

// PatchDocument is the built-in document whose runs are patch scans and
// installs; its step patchStep prints the node's patch compliance.
const (
	PatchDocument = "Stead-RunPatchBaseline"
	patchStep     = "patchBaseline"
)

// PatchCompliance is a node's patch compliance with an association that
// runs Stead-RunPatchBaseline, as SSM's patch compliance reports it: the
// counts and missing updates the run its compliance record comes from
// found. They are read from that run's recorded output head, so Truncated
// says it was cut: the missing list, or even the counts, may be short.
type PatchCompliance struct {
	NodeCompliance
	Operation string `json:"operation,omitempty"`
	PatchCounts
	MissingPatches []string `json:"missingPatches,omitempty"`
	Truncated      bool     `json:"truncated,omitempty"`
}

// PatchCounts are the counts of SSM's patch compliance, for one node or
// summed over many.
type PatchCounts struct {
	Installed         int `json:"installed"`
	InstalledOther    int `json:"installedOther"`
	InstalledRejected int `json:"installedRejected"`
	Missing           int `json:"missing"`
	Failed            int `json:"failed"`
	NotApplicable     int `json:"notApplicable"`
}

// Columns are the counts as table cells, in the order of the fields.
func (k PatchCounts) Columns() []string {
	return []string{strconv.Itoa(k.Installed), strconv.Itoa(k.InstalledOther), strconv.Itoa(k.InstalledRejected),
		strconv.Itoa(k.Missing), strconv.Itoa(k.Failed), strconv.Itoa(k.NotApplicable)}
}

func (k *PatchCounts) add(o PatchCounts) {
	k.Installed += o.Installed
	k.InstalledOther += o.InstalledOther
	k.InstalledRejected += o.InstalledRejected
	k.Missing += o.Missing
	k.Failed += o.Failed
	k.NotApplicable += o.NotApplicable
}

// PatchCompliances lists the patch compliance of the nodes f selects with
// the associations that run Stead-RunPatchBaseline.
func (c *Client) PatchCompliances(ctx context.Context, f ComplianceFilter) ([]PatchCompliance, error) {
	recs, err := c.Compliance(ctx, f)
	if err != nil {
		return nil, err
	}
	assocs, err := c.Associations(ctx)
	if err != nil {
		return nil, err
	}
	patching := map[string]bool{}
	for _, a := range assocs {
		if name, _, _ := strings.Cut(a.Document, ":"); name == PatchDocument {
			patching[a.Name] = true
		}
	}
	// One read per execution, whatever the number of its nodes listed.
	outputs := map[string][]TargetOutput{}
	out := []PatchCompliance{}
	for _, r := range recs {
		if !patching[r.Association] {
			continue
		}
		key := r.Association + "\x00" + r.ExecutionID
		outs, read := outputs[key]
		if !read {
			if _, outs, err = c.TargetOutputs(ctx, r.Association, r.ExecutionID); err != nil {
				return nil, fmt.Errorf("read patch run %s of %s: %w", r.ExecutionID, r.Association, err)
			}
			outputs[key] = outs
		}
		pc := PatchCompliance{NodeCompliance: r}
		for _, o := range outs {
			for _, s := range o.Output {
				if o.NodeID == r.NodeID && s.Name == patchStep {
					ParsePatchSummary(s.Stdout, &pc)
					pc.Truncated = s.StdoutTruncated
				}
			}
		}
		out = append(out, pc)
	}
	return out, nil
}

// ParsePatchSummary reads the counts and missing updates Stead-RunPatchBaseline
// prints into pc: the line "Patch compliance (apt, OPERATION): Installed=N ..."
// and one "missing: NAME OLD -> NEW (CLASS)" line per missing update.
// Lines and fields it does not know are skipped, so a newer document's
// output still reads.
func ParsePatchSummary(stdout string, pc *PatchCompliance) {
	for _, line := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, "missing: "); ok {
			if name, _, found := strings.Cut(rest, " "); found {
				pc.MissingPatches = append(pc.MissingPatches, name)
			}
			continue
		}
		rest, ok := strings.CutPrefix(line, "Patch compliance (")
		if !ok {
			continue
		}
		head, counts, ok := strings.Cut(rest, "):")
		if !ok {
			continue
		}
		if _, op, found := strings.Cut(head, ", "); found {
			pc.Operation = op
		}
		for _, field := range strings.Fields(counts) {
			k, v, _ := strings.Cut(field, "=")
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				continue
			}
			switch k {
			case "Installed":
				pc.Installed = n
			case "InstalledOther":
				pc.InstalledOther = n
			case "InstalledRejected":
				pc.InstalledRejected = n
			case "Missing":
				pc.Missing = n
			case "Failed":
				pc.Failed = n
			case "NotApplicable":
				pc.NotApplicable = n
			}
		}
	}
}

// PatchCount is the patch compliance of an association's nodes, summed: how
// many nodes are compliant and the counts their last runs found.
type PatchCount struct {
	Association  string `json:"association"`
	Nodes        int    `json:"nodes"`
	Compliant    int    `json:"compliant"`
	NonCompliant int    `json:"nonCompliant"`
	PatchCounts
}

// PatchSummary sums the patch compliance of every node by association.
func (c *Client) PatchSummary(ctx context.Context) ([]PatchCount, error) {
	pcs, err := c.PatchCompliances(ctx, ComplianceFilter{})
	if err != nil {
		return nil, err
	}
	return SumPatches(pcs), nil
}

// SumPatches sums patch compliances by association, in association order.
func SumPatches(pcs []PatchCompliance) []PatchCount {
	counts := []PatchCount{}
	for _, pc := range pcs {
		i := slices.IndexFunc(counts, func(k PatchCount) bool { return k.Association == pc.Association })
		if i < 0 {
			counts = append(counts, PatchCount{Association: pc.Association})
			i = len(counts) - 1
		}
		k := &counts[i]
		k.Nodes++
		if pc.Status == contract.Compliant {
			k.Compliant++
		} else {
			k.NonCompliant++
		}
		k.add(pc.PatchCounts)
	}
	slices.SortFunc(counts, func(a, b PatchCount) int { return strings.Compare(a.Association, b.Association) })
	return counts
}
