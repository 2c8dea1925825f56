// Package contract is what two Stead processes must agree on to work
// together through Temporal: workflow type names and ids, task queues, the
// names of updates, queries and signals, memo keys, search attributes,
// statuses, the payloads of signals, and the failure types with which
// workflows refuse what they cannot do. A worker, the CLI and any other
// client spell these names only through this package, so a rename is one
// change, and a mismatch between processes cannot hide in a string literal.
//
// It imports nothing of Stead, so every other package can depend on it.
//
// Search attribute values are stored unencrypted by Temporal, so nothing
// secret may ever be written to one.
package contract
