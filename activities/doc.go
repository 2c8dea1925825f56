// Package activities holds the Temporal activities Stead's workflows call:
// everything that touches the world (rendering documents, searching nodes,
// running a step on a node over SSH or locally). Dependencies are injected
// through the Activities struct so tests can wire real ones.
package activities
