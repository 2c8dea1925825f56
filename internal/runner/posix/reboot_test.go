package posix_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/runner/posix"
	"github.com/stead-io/stead/internal/transport"
)

// TestReboot reboots a pretend node: the boot id is a file's content and
// the reboot command counts its calls, so the worker's own host stays up.
func TestReboot(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	c, err := transport.LocalDialer{}.Dial(context.Background(), transport.Target{Kind: transport.KindLocal})
	require.NoError(t, err)
	dir := t.TempDir()
	bootFile, calls := filepath.Join(dir, "boot"), filepath.Join(dir, "calls")
	require.NoError(t, os.WriteFile(bootFile, []byte("boot-1\n"), 0o644))
	r := runner.Reboot{RunID: runID(t), Command: "echo x >> " + calls, BootIDCommand: "cat " + bootFile}
	rn := posix.Runner{}

	id, err := rn.BootID(context.Background(), c, r.BootIDCommand)
	require.NoError(t, err)
	require.Equal(t, "boot-1", id)

	from, err := rn.Reboot(context.Background(), c, r)
	require.NoError(t, err)
	require.Equal(t, "boot-1", from)
	from, err = rn.Reboot(context.Background(), c, r)
	require.NoError(t, err)
	require.Equal(t, "boot-1", from, "still the same boot: the reboot did not happen, so it is issued again")
	require.NoError(t, os.WriteFile(bootFile, []byte("boot-2\n"), 0o644))
	from, err = rn.Reboot(context.Background(), c, r)
	require.NoError(t, err)
	require.Equal(t, "boot-1", from, "a retry after the reboot reports the boot it left")
	b, err := os.ReadFile(calls)
	require.NoError(t, err)
	require.Equal(t, "x\nx\n", string(b), "the node was not rebooted again")

	_, err = rn.Reboot(context.Background(), c, runner.Reboot{RunID: runID(t) + "-refused", Command: "echo no way >&2; exit 1", BootIDCommand: r.BootIDCommand})
	require.ErrorIs(t, err, runner.ErrRebootFailed)
	require.ErrorContains(t, err, "the reboot command exited 1: no way")
	_, err = rn.Reboot(context.Background(), c, runner.Reboot{RunID: runID(t) + "-noid", Command: r.Command, BootIDCommand: "true"})
	require.ErrorIs(t, err, runner.ErrRebootFailed)
	require.ErrorContains(t, err, "the boot id command printed nothing")
	_, err = rn.Reboot(context.Background(), c, runner.Reboot{RunID: "../x", Command: r.Command})
	require.ErrorContains(t, err, "run id")
}

// TestFilesForSteps: a POSIX node's files are the communicator's.
func TestFilesForSteps(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	c, err := transport.LocalDialer{}.Dial(context.Background(), transport.Target{Kind: transport.KindLocal})
	require.NoError(t, err)
	rn := posix.Runner{}
	dest, err := rn.Upload(context.Background(), c, "docs/d.yaml", strings.NewReader("content"), 0o600)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(home, "docs/d.yaml"), dest)
	b, err := rn.ReadFile(context.Background(), c, "docs/d.yaml", 4)
	require.NoError(t, err)
	require.Equal(t, "cont", string(b))
	_, err = rn.ReadFile(context.Background(), c, "docs/none.yaml", 4)
	require.ErrorIs(t, err, os.ErrNotExist)
}
