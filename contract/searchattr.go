package contract

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Keys of every Stead search attribute. SQLite visibility allows 10 Keyword
// and 3 KeywordList attributes per namespace; Stead uses 7 and 2.
var (
	// AttrAssociation is the association name on association, execution and target workflows.
	AttrAssociation = temporal.NewSearchAttributeKeyKeyword("SteadAssociation")
	// AttrDocument is the document name an association or execution runs.
	AttrDocument = temporal.NewSearchAttributeKeyKeyword("SteadDocument")
	// AttrNodeID is the managed node's id on node and target workflows.
	AttrNodeID = temporal.NewSearchAttributeKeyKeyword("SteadNodeId")
	// AttrStatus is the Stead-level status (Pending, InProgress, Success, Failed, ...).
	AttrStatus = temporal.NewSearchAttributeKeyKeyword("SteadStatus")
	// AttrExecutionID is the association execution id on execution and target workflows.
	AttrExecutionID = temporal.NewSearchAttributeKeyKeyword("SteadExecutionId")
	// AttrRegion is the node's region; it routes steps to that region's task queue.
	AttrRegion = temporal.NewSearchAttributeKeyKeyword("SteadRegion")
	// AttrPlatform is the node's platform: linux or windows.
	AttrPlatform = temporal.NewSearchAttributeKeyKeyword("SteadPlatform")
	// AttrTags holds a node's tags as "key=value" strings, so tag targeting is
	// `SteadTags IN ('role=web', 'role=db')`.
	AttrTags = temporal.NewSearchAttributeKeyKeywordList("SteadTags")
	// AttrCompliance holds "association=STATUS" strings on node workflows.
	AttrCompliance = temporal.NewSearchAttributeKeyKeywordList("SteadCompliance")
)

// SearchAttributes maps each attribute name to its type, for registering them in a namespace.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	keys := []temporal.SearchAttributeKey{AttrAssociation, AttrDocument, AttrNodeID, AttrStatus, AttrExecutionID, AttrRegion, AttrPlatform, AttrTags, AttrCompliance}
	out := make(map[string]enumspb.IndexedValueType, len(keys))
	for _, k := range keys {
		out[k.GetName()] = k.GetValueType()
	}
	return out
}
