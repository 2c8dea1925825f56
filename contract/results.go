package contract

import "time"

// TargetSummary is a node's outcome in an execution: the unit of the audit
// record. Executions run nodes in batches, and each batch's result in the
// execution's history lists one TargetSummary per node, so clients read
// per-node outcomes from there.
type TargetSummary struct {
	NodeID         string        `json:"nodeId"`
	Status         string        `json:"status"`
	DetailedStatus string        `json:"detailedStatus,omitempty"`
	ExitCode       int           `json:"exitCode"`
	StartedAt      time.Time     `json:"startedAt"`
	EndedAt        time.Time     `json:"endedAt"`
	Steps          []StepSummary `json:"steps,omitempty"`
}

// StepSummary is a step's outcome on one node, with the head of its output:
// as much as the batch's share of Temporal's payload limit allows. The full
// output is in the output store.
type StepSummary struct {
	Name           string `json:"name"`
	Status         string `json:"status"`
	DetailedStatus string `json:"detailedStatus,omitempty"`
	ExitCode       int    `json:"exitCode"`
	// Attempt is which run of the step this is, from 1; 0 for a step that
	// did not run on the node (skipped, refused, or a document loaded in
	// its place).
	Attempt int `json:"attempt,omitempty"`
	// Source names the document file a step came from when an
	// aws:runDocument LocalPath step ran it: its path and hash.
	Source string `json:"source,omitempty"`
	// Earlier are the attempts before this one of a step retried for its
	// maxAttempts, oldest first.
	Earlier []StepSummary `json:"earlier,omitempty"`
	// Resumed: the worker found the step already running or finished on
	// the node, started by an earlier attempt of its batch, and collected it
	// instead of running it again.
	Resumed   bool      `json:"resumed,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	Stdout    string    `json:"stdout,omitempty"`
	Stderr    string    `json:"stderr,omitempty"`
	// StdoutTruncated and StderrTruncated: the output here is only the
	// head of what the step printed.
	StdoutTruncated bool `json:"stdoutTruncated,omitempty"`
	StderrTruncated bool `json:"stderrTruncated,omitempty"`
	// OutputStoreError says why the full output is missing from the output store.
	OutputStoreError string `json:"outputStoreError,omitempty"`
	// OutputURL is where the full output is when the worker stores it in
	// an S3-compatible bucket: s3://bucket/prefix/<execution>/<node>/<step>/,
	// holding stdout and stderr. Empty: on the disk of the worker that ran
	// the step.
	OutputURL string `json:"outputUrl,omitempty"`
}

// TargetRef is a node an execution runs on, with what routing needs.
type TargetRef struct {
	NodeID   string `json:"nodeId"`
	Region   string `json:"region,omitempty"`
	Platform string `json:"platform"`
}

// BatchResult is what a batch of an execution did, the result of
// ActivityRunBatch: a summary for each node it ran, and the nodes it did
// not start because its failure allowance ran out or the execution was
// cancelled.
type BatchResult struct {
	Nodes      []TargetSummary `json:"nodes"`
	NotStarted []string        `json:"notStarted,omitempty"`
}

// BatchHeartbeat is the detail of a batch activity's heartbeats: the nodes
// it is running, longest running first, at most MaxRunningReported, so a
// watcher can name the nodes that hold an execution up.
type BatchHeartbeat struct {
	Running []RunningNode `json:"running"`
}

// RunningNode is a node a batch is running, since StartedAt.
type RunningNode struct {
	NodeID    string    `json:"nodeId"`
	StartedAt time.Time `json:"startedAt"`
}

// MaxRunningReported bounds the nodes of one batch heartbeat: a watcher
// shows a few of the slowest, and a heartbeat stays small.
const MaxRunningReported = 5
