// Package transport is how Stead reaches a managed node: it opens a
// connection to a node (over SSH, or on the worker's own host) and runs
// commands through the node's POSIX shell.
//
// Every failure to reach a node is an *Error whose Kind tells activities
// whether retrying can help: only Unreachable is transient; host key, auth
// and credential problems need an operator. Host keys are always verified,
// against a key pinned on the node or a known_hosts file; there is no way to
// skip the check. Pool keeps SSH connections open between the steps of a run
// so a node is dialled once rather than once per step.
package transport
