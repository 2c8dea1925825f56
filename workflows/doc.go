// Package workflows holds Stead's Temporal workflows: the durable state of
// nodes and associations, and the executions that carry an association's
// document to its targets. Temporal's history of these workflows is Stead's
// audit record.
//
// Everything here is deterministic workflow code: no wall clock, no map
// ranging, no goroutines, no I/O. Work that touches the world lives in the
// activities package.
package workflows
