package transport

import (
	"fmt"
)

// ErrorKind classifies why a node could not be reached, so callers can tell
// a transient failure from one that needs an operator. Its values are
// stable strings, suitable as a typed failure reason.
type ErrorKind string

// Kinds of transport failure.
const (
	// HostKeyUnknown: the node's host key is neither pinned nor in known_hosts.
	HostKeyUnknown ErrorKind = "HostKeyUnknown"
	// HostKeyMismatch: the node presented a different host key than the one
	// trusted for it (or none of the trusted key's type): a possible
	// man-in-the-middle, or a reinstalled host.
	HostKeyMismatch ErrorKind = "HostKeyMismatch"
	// AuthFailed: the node refused the credential.
	AuthFailed ErrorKind = "AuthFailed"
	// Unreachable: the connection was refused, timed out or dropped before
	// the session was set up. The only retryable kind.
	Unreachable ErrorKind = "Unreachable"
	// NoCredential: the worker holds no credential the target can use.
	NoCredential ErrorKind = "NoCredential"
	// InvalidTarget: the target itself is unusable (no user, bad pinned key,
	// a transport this worker has no protocol for).
	InvalidTarget ErrorKind = "InvalidTarget"
	// Incompatible: the node and the worker share no SSH algorithm.
	Incompatible ErrorKind = "Incompatible"
)

// describe is the kind in words, for error messages.
func (k ErrorKind) describe() string {
	switch k {
	case HostKeyUnknown:
		return "unknown host key"
	case HostKeyMismatch:
		return "host key mismatch"
	case AuthFailed:
		return "authentication failed"
	case Unreachable:
		return "unreachable"
	case NoCredential:
		return "no credential"
	case InvalidTarget:
		return "invalid target"
	case Incompatible:
		return "no common ssh algorithm"
	}
	return string(k)
}

// Error reports why a node could not be reached. Activities use Kind (or
// Retryable) to decide between retrying and failing for good.
type Error struct {
	// Kind classifies the failure.
	Kind ErrorKind
	// NodeID is the node that could not be reached.
	NodeID string
	// Addr is the address that was dialled.
	Addr string
	// Err is the underlying cause.
	Err error
	// HostKey is the public key the node presented, in authorized_keys form,
	// for host key failures, so an operator can verify and pin it.
	HostKey string
}

// newError builds an *Error for target t.
func newError(kind ErrorKind, t Target, err error) *Error {
	return &Error{Kind: kind, NodeID: t.NodeID, Addr: t.Addr(), Err: err}
}

// Error implements error. A host key failure says how to trust the key
// once it is checked, since that is what the operator does next.
func (e *Error) Error() string {
	msg := fmt.Sprintf("reach node %s at %s: %s: %v", e.NodeID, e.Addr, e.Kind.describe(), e.Err)
	switch {
	case e.NodeID == "":
	case e.Kind == HostKeyUnknown:
		msg += "; check the key and pin it with: stead node trust " + e.NodeID
	case e.Kind == HostKeyMismatch:
		msg += "; if the host was reinstalled, check its new key and pin it with: stead node trust " + e.NodeID + " --replace"
	}
	return msg
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether trying again later may succeed; only an
// unreachable node may come back by itself.
func (e *Error) Retryable() bool { return e.Kind == Unreachable }
