package posix_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/runner/posix"
)

func TestFetchReadsTheFullOutput(t *testing.T) {
	n := sshNode(t)
	id := runID(t)
	// 50,000 bytes of stdout: twice what a result keeps.
	r, err := posix.Runner{}.Run(context.Background(), n.dial(), runner.Spec{
		RunID:  id,
		Script: "i=0; while [ $i -lt 1000 ]; do printf '%049d\\n' $i; i=$((i+1)); done; echo oops >&2",
	}, nil)
	require.NoError(t, err)
	require.True(t, r.StdoutTruncated)
	require.EqualValues(t, 50000, r.StdoutBytes)

	var out bytes.Buffer
	written, size, err := posix.Runner{}.Fetch(context.Background(), n.dial(), id, runner.Stdout, 1<<20, &out)
	require.NoError(t, err)
	require.EqualValues(t, 50000, written)
	require.EqualValues(t, 50000, size)
	require.True(t, strings.HasPrefix(out.String(), r.Stdout))
	require.Contains(t, out.String(), "000000000000000000000000000000000000000000000999\n")

	// A limit cuts the copy and says how much there was.
	out.Reset()
	written, size, err = posix.Runner{}.Fetch(context.Background(), n.dial(), id, runner.Stdout, 100, &out)
	require.NoError(t, err)
	require.EqualValues(t, 100, written)
	require.EqualValues(t, 50000, size)
	require.Equal(t, 100, out.Len())

	out.Reset()
	_, _, err = posix.Runner{}.Fetch(context.Background(), n.dial(), id, runner.Stderr, 1<<20, &out)
	require.NoError(t, err)
	require.Equal(t, "oops\n", out.String())

	_, _, err = posix.Runner{}.Fetch(context.Background(), n.dial(), id+"-missing", runner.Stdout, 10, &out)
	require.ErrorContains(t, err, "has no stdout file")
	_, _, err = posix.Runner{}.Fetch(context.Background(), n.dial(), "../etc", runner.Stdout, 10, &out)
	require.ErrorContains(t, err, "run id")
	_, _, err = posix.Runner{}.Fetch(context.Background(), n.dial(), id, "exitcode", 10, &out)
	require.ErrorContains(t, err, "want stream stdout or stderr")
}
