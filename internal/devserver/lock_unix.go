//go:build unix

package devserver

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking lock on f so that two servers
// never share one database; the lock goes away when f is closed.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
