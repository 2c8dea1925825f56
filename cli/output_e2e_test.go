package cli_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
)

// History keeps the first 24,000 characters of stdout; the output store
// keeps all of it, and `association output` prints it.
func TestFullOutputGoesToTheOutputStore(t *testing.T) {
	h := setup(t)
	h.register("out-1", 60)
	id, want := runLongOutput(t, "full-output", "out-1")

	outs := targetsJSON(t, "full-output", id)
	require.Len(t, outs, 1)
	require.Equal(t, contract.StatusSuccess, outs[0].Status)
	res := outs[0].Output[0]
	require.Len(t, res.Stdout, activities.StdoutLimit)
	require.True(t, res.StdoutTruncated)
	require.Empty(t, res.OutputStoreError)
	require.Equal(t, want[:activities.StdoutLimit], res.Stdout)

	args := []string{"association", "output", "full-output", "--execution", id, "--node", "out-1", "--output-dir", h.outputDir}
	require.Equal(t, want, ok(t, append(args, "--step", res.Name)...))
	require.Equal(t, want, ok(t, args...), "the node's only step is printed without --step")
	require.Equal(t, "err-line\n", ok(t, append(args, "--stderr")...))

	fails(t, "no stdout of step nope on node out-1", append(args, "--step", "nope")...)
	fails(t, "no output of node out-2", "association", "output", "full-output", "--execution", id, "--node", "out-2", "--output-dir", h.outputDir)
	fails(t, "not a valid name in the output store", "association", "output", "full-output", "--execution", "../x", "--node", "out-1", "--output-dir", h.outputDir)
	fails(t, "want exactly one association NAME", "association", "output", "--execution", id, "--node", "out-1")
	ok(t, "association", "delete", "full-output")
}

// runLongOutput creates the association name on node, running a step
// that prints 108,894 characters to stdout (seq 1 20000; the last line is
// 20000) and "err-line" to stderr, and waits for it. It returns the
// execution's id and the whole stdout.
func runLongOutput(t *testing.T, name, node string) (string, string) {
	out := ok(t, "association", "create", "--name", name, "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values="+node,
		"--parameters", `{"commands":["seq 1 20000","echo err-line >&2"]}`, "--wait")
	var want strings.Builder
	for i := 1; i <= 20000; i++ {
		want.WriteString(strconv.Itoa(i) + "\n")
	}
	return execID(t, out), want.String()
}
