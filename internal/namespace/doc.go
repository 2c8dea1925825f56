// Package namespace prepares a Temporal namespace for Stead: it exists, its
// retention is what the operator asked for, and every search attribute Stead
// queries is registered with its type. `stead namespace setup` runs it
// against any Temporal endpoint and `stead dev` against its embedded
// server, so a namespace is prepared the same way everywhere.
//
// Setup is idempotent: run twice, the second run changes nothing. It never
// deletes or retypes anything; an attribute registered under another type is
// reported, since changing it would break every workflow that uses it.
package namespace
