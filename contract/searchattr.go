package contract

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Keys of every Stead search attribute. SQLite visibility allows 10 Keyword
// and 3 KeywordList attributes per namespace; Stead uses 7 Keyword, 2 KeywordList and 1 Int.
var (
	// AttrAssociation is the association name on association and execution workflows.
	AttrAssociation = temporal.NewSearchAttributeKeyKeyword("SteadAssociation")
	// AttrDocument is the document name an association or execution runs.
	AttrDocument = temporal.NewSearchAttributeKeyKeyword("SteadDocument")
	// AttrNodeID is the managed node's id on node workflows.
	AttrNodeID = temporal.NewSearchAttributeKeyKeyword("SteadNodeId")
	// AttrStatus is the Stead-level status (Pending, InProgress, Success, Failed, ...).
	AttrStatus = temporal.NewSearchAttributeKeyKeyword("SteadStatus")
	// AttrExecutionID is the association execution id on execution workflows.
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
	keys := []temporal.SearchAttributeKey{AttrAssociation, AttrDocument, AttrNodeID, AttrStatus, AttrExecutionID, AttrRegion, AttrPlatform, AttrTags, AttrCompliance, AttrShard}
	out := make(map[string]enumspb.IndexedValueType, len(keys))
	for _, k := range keys {
		out[k.GetName()] = k.GetValueType()
	}
	return out
}

// AttrShard is a node's shard, NodeShard(id), on node workflows: it lets an
// execution resolve a large fleet a slice at a time, with an Int range that
// every visibility store can query, instead of holding every node at once.
var AttrShard = temporal.NewSearchAttributeKeyInt64("SteadShard")

// NodeShards is the number of shards nodes are spread over.
const NodeShards = 4096

// NodeShard is the shard of the node with this id: FNV-1a of the id,
// modulo NodeShards. It never changes for an id.
func NodeShard(id string) int64 {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return int64(h % NodeShards)
}
