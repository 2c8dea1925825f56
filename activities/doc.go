// Package activities holds the Temporal activities Stead's workflows call:
// everything that touches the world (rendering documents, searching nodes,
// running a step on a node). Dependencies are injected through the
// Activities struct so tests can wire real ones.
//
// Activities reach nodes only through the seam of package runner: a
// Communicator lent by the pool for the node's transport, driven by the
// Runner for the node's platform. They never write shell code or know the
// protocol. Each node-facing activity is "load the node" followed by an
// unexported method on the loaded node (runStepOn, rebootNodeOn,
// awaitBootOn, loadLocalDocumentOn), which an activity serving many nodes
// at once calls per node.
package activities
