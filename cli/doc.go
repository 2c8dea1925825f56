// Package cli is the stead command line: one file per noun (node,
// association, document) plus the long-running commands (worker, dev).
// Commands write to injected writers and return errors, so the whole CLI
// runs in-process in tests exactly as a user runs it.
package cli
