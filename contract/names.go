package contract

import "strings"

// Workflow type names, as workers register them and visibility queries
// select them.
const (
	NodeWorkflow        = "NodeWorkflow"
	DocumentWorkflow    = "DocumentWorkflow"
	AssociationWorkflow = "AssociationWorkflow"
	ExecutionWorkflow   = "ExecutionWorkflow"
)

// Workflow id prefixes: one workflow per node, document and association.
const (
	nodePrefix        = "node/"
	documentPrefix    = "document/"
	associationPrefix = "association/"
	executionPrefix   = "execution/"
)

// NodeWorkflowID names the workflow of the node with this id.
func NodeWorkflowID(id string) string { return nodePrefix + id }

// DocumentWorkflowID names the workflow that holds a registered document.
func DocumentWorkflowID(name string) string { return documentPrefix + name }

// AssociationWorkflowID names an association: one workflow per name.
func AssociationWorkflowID(name string) string { return associationPrefix + name }

// AssociationName is the association an association workflow id names, or
// "" when the id is not an association's.
func AssociationName(workflowID string) string {
	name, ok := strings.CutPrefix(workflowID, associationPrefix)
	if !ok {
		return ""
	}
	return name
}

// ExecutionWorkflowID names an execution of an association.
func ExecutionWorkflowID(association, executionID string) string {
	return executionPrefix + association + "/" + executionID
}

// TaskQueue is the queue every Stead worker polls for workflow tasks and
// for the control activities (preparing documents, resolving targets).
const TaskQueue = "stead"

// DefaultRegion is the region of nodes registered without one.
const DefaultRegion = "default"

// RegionTaskQueue is the queue carrying the steps for nodes of one region;
// only workers started with that region poll it, so a step is executed by a
// worker that can reach the node.
func RegionTaskQueue(region string) string {
	if region == "" {
		region = DefaultRegion
	}
	return TaskQueue + "/" + region
}

// Handlers of the node workflow.
const (
	NodeUpdateRegister   = "register"
	NodeUpdateDeregister = "deregister"
	NodeQueryDescribe    = "describe"
	// SignalCompliance carries a node's outcomes in executions to its node
	// workflow; its payload is a ComplianceRecord.
	SignalCompliance = "compliance"
)

// Handlers of the document workflow.
const (
	DocumentUpdateCreate     = "create"
	DocumentUpdateUpdate     = "update"
	DocumentUpdateSetDefault = "setDefault"
	DocumentUpdateDelete     = "delete"
	DocumentQueryDescribe    = "describe"
	// DocumentQueryVersion answers one version's content.
	DocumentQueryVersion = "version"
)

// Handlers of the association workflow.
const (
	AssociationUpdateStart  = "start"
	AssociationUpdateUpdate = "update"
	AssociationUpdateDelete = "delete"
	// AssociationUpdateStop pauses an association: nothing runs until
	// AssociationUpdateResume; a running execution is cancelled.
	AssociationUpdateStop    = "stop"
	AssociationUpdateResume  = "resume"
	AssociationQueryDescribe = "describe"
	// SignalNodeMatched tells an association that a node newly matches its
	// targets; its payload is a NodeMatched.
	SignalNodeMatched = "node-matched"
	// SignalDocumentChanged tells an association that the document version
	// it runs by $DEFAULT or $LATEST changed; its payload is a DocumentChanged.
	SignalDocumentChanged = "document-changed"
)

// ExecutionQueryProgress is the execution workflow's query for its live state.
const ExecutionQueryProgress = "progress"

// Memo keys.
const (
	// NodeMemoKey is the node workflow's memo field with the node's spec,
	// so a visibility listing returns every node without a query per node.
	NodeMemoKey = "node"
	// ComplianceMemoKey is the node memo field holding its compliance records.
	ComplianceMemoKey = "compliance"
	// AssociationTargetsMemoKey is the association workflow's memo field
	// with its targets, so a node finds the associations it matches with
	// one listing.
	AssociationTargetsMemoKey = "targets"
)

// ActivityRunBatch is the activity that runs an execution's document on a
// batch of nodes. Its results, in the execution's history, are the per-node
// audit record that clients read.
const ActivityRunBatch = "RunBatch"
