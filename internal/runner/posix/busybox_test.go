package posix_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/runner/posix"
	"github.com/stead-io/stead/internal/transport"
)

// TestRunOnBusybox runs the protocol with nothing but busybox on PATH, as
// on an Alpine node.
func TestRunOnBusybox(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox is not installed; install the busybox package to check Alpine-like nodes")
	}
	bin := t.TempDir()
	list, err := exec.Command(bb, "--list").Output()
	require.NoError(t, err)
	for _, applet := range strings.Fields(string(list)) {
		require.NoError(t, os.Symlink(bb, filepath.Join(bin, applet)))
	}
	t.Setenv("PATH", bin)
	t.Setenv("HOME", t.TempDir())
	c, err := transport.LocalDialer{}.Dial(context.Background(), transport.Target{Kind: transport.KindLocal})
	require.NoError(t, err)

	spec := runner.Spec{
		RunID:  runID(t),
		Script: "echo \"$V\"; printf 'héllo' >&2; exit 5",
		Env:    []runner.EnvVar{{Name: "V", Value: "a'b\n$(c)"}},
	}
	res, err := posix.Runner{}.Run(context.Background(), c, spec, nil)
	require.NoError(t, err)
	require.Equal(t, 5, res.ExitCode)
	require.Equal(t, "a'b\n$(c)\n", res.Stdout)
	require.Equal(t, "héllo", res.Stderr)
	require.Equal(t, int64(6), res.StderrBytes)
	require.False(t, res.Resumed)

	again, err := posix.Runner{}.Run(context.Background(), c, spec, nil)
	require.NoError(t, err)
	require.True(t, again.Resumed)
	require.Equal(t, res.Stdout, again.Stdout)

	timed, err := posix.Runner{}.Run(context.Background(), c, runner.Spec{
		RunID: runID(t) + "-timeout", Script: "sleep 30", Timeout: time.Second, KillGrace: time.Second,
	}, nil)
	require.NoError(t, err)
	require.True(t, timed.TimedOut)
}
