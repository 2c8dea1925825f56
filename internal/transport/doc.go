// Package transport is how Stead reaches a managed node: a Communicator per
// protocol runs commands on the node and moves files to and from it,
// knowing nothing of the node's shell (package runner speaks that).
//
// A Protocol (SSH, or the worker's own host) is built from its own
// configuration (SSHConfig; the local protocol needs none), has its own
// default port (SSH 22), and is registered in a Registry under the
// transport name nodes give ("ssh", "local"). The Registry routes each
// Target to its protocol; Pool keeps the connections it dials open between
// the steps of a run, so a node is dialled once rather than once per step,
// and lends them out only as Communicators. WinRM is a Protocol in a
// package of its own (transport/winrm), built from its own configuration.
//
// Every failure to reach a node is an *Error whose Kind tells activities
// whether retrying can help: only Unreachable is transient; host key, auth
// and credential problems need an operator, and a transport the worker has
// no protocol for is InvalidTarget. Host keys are always verified, against
// a key pinned on the node or a known_hosts file; there is no way to skip
// the check.
package transport
