package contract

// Failure types of Stead's refusals: the type of the ApplicationError with
// which a workflow's update validator refuses a request, or with which an
// association workflow fails at once when started with input it cannot
// run. A client tells them apart by type, never by reading the message,
// which is the one line to show the user. An Invalid failure carries the
// list of problems in its details when there are several.
const (
	// FailureInvalid: the request or input is malformed or cannot run.
	FailureInvalid = "Invalid"
	// FailureNotFound: what the request is about does not exist.
	FailureNotFound = "NotFound"
	// FailureConflict: the request is well formed but the state does not
	// allow it now (already exists, changed since read, being deleted).
	FailureConflict = "Conflict"
	// FailureExecution: an execution whose targets did not all succeed
	// fails with this type, so that Temporal (and its Web UI) shows it
	// failed; the message names the first failed nodes and why, and the
	// details hold the execution's whole result.
	FailureExecution = "ExecutionFailed"
)
