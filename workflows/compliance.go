package workflows

import (
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/contract"
)

// recordCompliance stores r in the node's records, one per association,
// kept sorted by association.
func recordCompliance(records []contract.ComplianceRecord, r contract.ComplianceRecord) []contract.ComplianceRecord {
	i, found := slices.BinarySearchFunc(records, r.Association, func(x contract.ComplianceRecord, name string) int {
		return strings.Compare(x.Association, name)
	})
	if found {
		records[i] = r
		return records
	}
	return slices.Insert(records, i, r)
}

// publishCompliance mirrors the records into the node's SteadCompliance
// search attribute ("association=STATUS") and its memo.
func publishCompliance(ctx workflow.Context, records []contract.ComplianceRecord) error {
	list := make([]string, len(records))
	for i, r := range records {
		list[i] = r.Association + "=" + r.Status
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, contract.AttrCompliance.ValueSet(list)); err != nil {
		return err
	}
	return workflow.UpsertMemo(ctx, map[string]any{contract.ComplianceMemoKey: records})
}
