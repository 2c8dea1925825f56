package runner_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/runner/posix"
)

func TestRegistry(t *testing.T) {
	r := runner.NewRegistry(map[string]runner.Runner{"linux": posix.Runner{}, "macos": posix.Runner{}})
	got, err := r.For("linux")
	require.NoError(t, err)
	require.Equal(t, posix.Runner{}, got)

	_, err = r.For("windows")
	require.ErrorIs(t, err, runner.ErrNoRunner)
	require.EqualError(t, err, "no runner for platform windows on this worker (it has: linux, macos)")

	var none *runner.Registry
	_, err = none.For("linux")
	require.EqualError(t, err, "no runner for platform linux on this worker (it has: none)")
}
