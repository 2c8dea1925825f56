package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"os/user"
	"syscall"
	"time"
)

// LocalDialer is the "local" protocol: it runs commands with `sh -c` on
// the worker's own host, as the worker's user. It exists for steps that
// manage the worker host itself and for running documents without a fleet.
// It needs no configuration.
type LocalDialer struct{}

// DefaultPort implements Protocol: the local protocol dials nothing.
func (LocalDialer) DefaultPort() int { return 0 }

// Dial implements Dialer. A target naming a user other than the worker's
// own is refused: the local transport cannot switch users.
func (LocalDialer) Dial(_ context.Context, t Target) (Communicator, error) {
	if t.User != "" {
		u, err := user.Current()
		if err != nil {
			return nil, newError(InvalidTarget, t, fmt.Errorf("look up the worker's user: %w", err))
		}
		if t.User != u.Username {
			return nil, newError(InvalidTarget, t, fmt.Errorf("local target user %q is not the worker's user %q", t.User, u.Username))
		}
	}
	return localConn{}, nil
}

// localConn runs each command as a child process of the worker.
type localConn struct{}

// localOutputWait is how long a command's output is still collected after
// its shell exits, when a background process keeps the output open.
const localOutputWait = 2 * time.Second

// Run implements Communicator. The command runs in its own process group, which
// is killed when ctx is cancelled.
func (localConn) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = localOutputWait
	if err := c.Start(); err != nil {
		return -1, fmt.Errorf("start local command: %w: %w", ErrNotStarted, err)
	}
	err := c.Wait()
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) && !errors.Is(err, exec.ErrWaitDelay) {
		return -1, fmt.Errorf("wait for local command: %w", err)
	}
	ws, ok := c.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return c.ProcessState.ExitCode(), nil
}

// Alive implements Communicator: the worker's own host is always there.
func (localConn) Alive() bool { return true }

// Close implements Communicator; a local connection holds nothing.
func (localConn) Close() error { return nil }
