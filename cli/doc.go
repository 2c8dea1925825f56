// Package cli is the stead command line: one file per noun (node,
// association, document, compliance), each flags and printing over the
// client package, which performs every operation; plus the long-running
// process commands (worker, dev, codec-server) and key management.
// Commands write to injected writers and return errors, so the whole CLI
// runs in-process in tests exactly as a user runs it.
package cli
