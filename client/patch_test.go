package client

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/contract"
)

// The summary Stead-RunPatchBaseline prints, read back into counts.
func TestParsePatchSummary(t *testing.T) {
	var pc PatchCompliance
	ParsePatchSummary(`Patch compliance (apt, Scan): Installed=120 InstalledOther=1 InstalledRejected=1 Missing=2 Failed=0 NotApplicable=3
missing: stead-ssl 1.0 -> 1.0+sec1 (security)
missing: stead-tool 1.0 -> 1.1 (approved)
NON_COMPLIANT: approved updates are missing; nothing changed (Scan, Mode Enforce)
`, &pc)
	require.Equal(t, PatchCompliance{Operation: "Scan", PatchCounts: PatchCounts{Installed: 120, InstalledOther: 1, InstalledRejected: 1, Missing: 2, NotApplicable: 3},
		MissingPatches: []string{"stead-ssl", "stead-tool"}}, pc)

	pc = PatchCompliance{}
	ParsePatchSummary("Patch compliance (apt, Install): Installed=7 Failed=x Future=9 Missing=-1\nmissing:\n", &pc)
	require.Equal(t, PatchCompliance{Operation: "Install", PatchCounts: PatchCounts{Installed: 7}}, pc, "unknown and bad fields are skipped")

	pc = PatchCompliance{}
	ParsePatchSummary("apt-get update failed:\nE: no network\n", &pc)
	require.Equal(t, PatchCompliance{}, pc, "a run that never counted counts nothing")
}

func FuzzParsePatchSummary(f *testing.F) {
	f.Add("Patch compliance (apt, Scan): Installed=1 Missing=2\nmissing: a 1 -> 2 (security)\n")
	f.Add("Patch compliance (): =\nmissing: \n")
	f.Fuzz(func(t *testing.T, s string) {
		var pc PatchCompliance
		ParsePatchSummary(s, &pc)
		for _, n := range []int{pc.Installed, pc.InstalledOther, pc.InstalledRejected, pc.Missing, pc.Failed, pc.NotApplicable} {
			require.GreaterOrEqual(t, n, 0)
		}
		require.LessOrEqual(t, len(pc.MissingPatches), strings.Count(s, "missing: "))
	})
}

// Patch compliance summed by association: nodes by status, counts added.
func TestSumPatches(t *testing.T) {
	node := func(assoc, status string, installed, missing, failed int) PatchCompliance {
		return PatchCompliance{NodeCompliance: NodeCompliance{ComplianceRecord: contract.ComplianceRecord{Association: assoc, Status: status}}, PatchCounts: PatchCounts{Installed: installed, Missing: missing, Failed: failed, NotApplicable: 1}}
	}
	got := SumPatches([]PatchCompliance{
		node("web", contract.NonCompliant, 100, 2, 0),
		node("db", contract.Compliant, 50, 0, 0),
		node("web", contract.Compliant, 90, 0, 0),
		node("web", contract.NonCompliant, 80, 1, 1),
	})
	require.Equal(t, []PatchCount{
		{Association: "db", Nodes: 1, Compliant: 1, PatchCounts: PatchCounts{Installed: 50, NotApplicable: 1}},
		{Association: "web", Nodes: 3, Compliant: 1, NonCompliant: 2, PatchCounts: PatchCounts{Installed: 270, Missing: 3, Failed: 1, NotApplicable: 3}},
	}, got)
	require.Empty(t, SumPatches(nil))
}
