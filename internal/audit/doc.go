// Package audit is the audit log's chain and file format: the hash that
// links each record to the one before it (Hash, Link), the check of a
// chain that names the first record that breaks it (Verify), the reading
// of an exported log (ParseExport), and the identity a client records with
// its changes (Identity, ParseIdentity).
//
// It is pure code without I/O beyond the reader it is given, so the audit
// workflow computes the chain with it deterministically, and `stead audit
// verify` checks a file with the very same code.
package audit
