// Package searchattr names the custom search attributes Stead writes on its
// workflows. They make nodes, associations, executions and per-target runs
// filterable in the Temporal Web UI and let targeting be a visibility query.
//
// Search attribute values are stored unencrypted by Temporal, so nothing
// secret may ever be written to one.
package searchattr

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Keys of every Stead search attribute. SQLite visibility allows 10 Keyword
// and 3 KeywordList attributes per namespace; Stead uses 7 and 2.
var (
	// Association is the association name on association, execution and target workflows.
	Association = temporal.NewSearchAttributeKeyKeyword("SteadAssociation")
	// Document is the document name an association or execution runs.
	Document = temporal.NewSearchAttributeKeyKeyword("SteadDocument")
	// NodeID is the managed node's id on node and target workflows.
	NodeID = temporal.NewSearchAttributeKeyKeyword("SteadNodeId")
	// Status is the Stead-level status (Pending, InProgress, Success, Failed, ...).
	Status = temporal.NewSearchAttributeKeyKeyword("SteadStatus")
	// ExecutionID is the association execution id on execution and target workflows.
	ExecutionID = temporal.NewSearchAttributeKeyKeyword("SteadExecutionId")
	// Region is the node's region; it routes steps to that region's task queue.
	Region = temporal.NewSearchAttributeKeyKeyword("SteadRegion")
	// Platform is the node's platform: linux or windows.
	Platform = temporal.NewSearchAttributeKeyKeyword("SteadPlatform")
	// Tags holds a node's tags as "key=value" strings, so tag targeting is
	// `SteadTags IN ('role=web', 'role=db')`.
	Tags = temporal.NewSearchAttributeKeyKeywordList("SteadTags")
	// Compliance holds "association=STATUS" strings on node workflows.
	Compliance = temporal.NewSearchAttributeKeyKeywordList("SteadCompliance")
)

// All maps each attribute name to its type, for registering them in a namespace.
func All() map[string]enumspb.IndexedValueType {
	keys := []temporal.SearchAttributeKey{Association, Document, NodeID, Status, ExecutionID, Region, Platform, Tags, Compliance}
	out := make(map[string]enumspb.IndexedValueType, len(keys))
	for _, k := range keys {
		out[k.GetName()] = k.GetValueType()
	}
	return out
}
