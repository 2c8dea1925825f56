//go:build !unix

package devserver

import "os"

// lockFile does nothing where flock is missing: on these platforms nothing
// stops two servers from opening the same data directory.
func lockFile(*os.File) error { return nil }
