// Package workflows holds Stead's Temporal workflows: the durable state of
// nodes and associations, and the executions that carry an association's
// document to its targets. Temporal's history of these workflows is Stead's
// audit record.
//
// Everything here is deterministic workflow code: no wall clock, no map
// ranging, no goroutines, no I/O. Work that touches the world lives in the
// activities package.
//
// # Versioning
//
// A worker replays a workflow's history through today's code before it
// continues it, so new code must issue the commands the old code recorded.
// Stead keeps that promise in two ways, by how long a workflow lives.
//
// Short-lived workflows (ExecutionWorkflow, whose batch activities do the
// work) run for minutes or hours. They change with Temporal's Worker
// Versioning: a new build ships as a new deployment version (build id), runs
// started on the old one finish there, and new runs start on the new one.
// Their code carries no patches.
//
// Long-lived workflows (NodeWorkflow, AssociationWorkflow,
// DocumentWorkflow, and the audit log's AuditWorkflow and
// AuditSegmentWorkflow, which never end) run for as long as the thing they
// hold exists, across every deployment. They keep one code path wherever
// they can: a change that a running history replays unchanged needs
// nothing. Only when a running history would otherwise break does the
// change go behind a patch (the Temporal SDK's version marker, recorded in
// history), and then a fixture is
// recorded before the change (from the old code) and after it (from the
// new), so both paths replay from then on. As fixtures are only ever added,
// a patch's old path stays: few patches, each for a history that would
// really break.
//
// # Replay fixtures
//
// workflows/testdata/histories/<version>/<WorkflowType>-<case>.json are
// histories recorded from real runs, one folder per release. The replay test
// in this package replays every fixture of every folder on every `make
// test`, so a change that breaks one fails CI. Fixtures are only ever added:
// a fixture of a released version is never changed or deleted, because
// workflows that version started may still be running. A new case is a new
// file; a new release is a new folder. Until its version is released, a
// folder's fixtures may be deleted and recorded again.
//
// If a change to a short-lived workflow no longer replays an older release's
// fixtures of it, the change must ship as a new deployment version; the
// replay test then learns, for that workflow type, which folders belong to
// the older deployments (the first such change adds that rule).
//
// To record, run `make histories`: the recorder (package
// workflows/histories) drives real workflows on the embedded Temporal server
// with a worker that reaches real sshd hosts and the local transport, and
// adds their histories to the folder of the version in development,
// histories.Version. It refuses to overwrite a file, naming it. `make
// histories ONLY=ExecutionWorkflow,NodeWorkflow` records only those
// workflow types. A new handler, signal or workflow path gets a new
// scenario or case in the recorder, recorded the same way.
//
// Each release starts a new version folder. When a release is cut, its
// folder must hold a fixture for every workflow type and handler as that
// release runs them (delete and record again those whose workflow changed
// since they were recorded), and histories.Version then moves to the next
// release's name, so the released folder is never written again.
package workflows
