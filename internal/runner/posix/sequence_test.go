package posix_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/runner/posix"
)

// sequence makes steps of scripts, each with its own run id, every one
// allowed to go on after plain success.
func sequence(t *testing.T, scripts ...string) []runner.SequenceStep {
	id := runID(t)
	steps := make([]runner.SequenceStep, len(scripts))
	for i, s := range scripts {
		steps[i] = runner.SequenceStep{Spec: runner.Spec{RunID: id + "-" + string(rune('a'+i)), Script: s}, Continue: true}
	}
	return steps
}

func TestSequenceHandsBackAtTheFirstFailure(t *testing.T) {
	n := sshNode(t)
	work := n.sh("mktemp -d")
	steps := sequence(t, "echo one; echo e1 >&2", "echo two; exit 3", "touch "+work+"/three")
	var reported []int
	res, err := posix.Runner{}.RunSequence(context.Background(), n.dial(), steps, nil, func(i int) { reported = append(reported, i) })
	require.NoError(t, err)
	require.Len(t, res, 2, "the failed step hands back")
	require.Equal(t, []int{0, 1}, reported)
	require.Equal(t, 0, res[0].ExitCode)
	require.Equal(t, "one\n", res[0].Stdout, "each step's own output")
	require.Equal(t, "e1\n", res[0].Stderr)
	require.Equal(t, 3, res[1].ExitCode)
	require.Equal(t, "two\n", res[1].Stdout)
	require.Empty(t, res[1].Stderr)
	require.Equal(t, "absent", n.sh("test -e "+work+"/three && echo present || echo absent"), "no step after the failure ran")
	require.Equal(t, "absent", n.sh("test -e "+res[1].RunDir[:len(res[1].RunDir)-1]+"c/started && echo present || echo absent"))
}

func TestSequenceStopsWhereTheCallerDecides(t *testing.T) {
	n := sshNode(t)
	steps := sequence(t, "exit 0", "exit 168", "true")
	steps[0].Continue = false
	res, err := posix.Runner{}.RunSequence(context.Background(), n.dial(), steps, nil, nil)
	require.NoError(t, err)
	require.Len(t, res, 1, "success without Continue hands back")

	res, err = posix.Runner{}.RunSequence(context.Background(), n.dial(), steps[1:], nil, nil)
	require.NoError(t, err)
	require.Len(t, res, 1, "168 is the caller's to decide")
	require.Equal(t, 168, res[0].ExitCode)
}

func TestSequenceTimeoutHandsBack(t *testing.T) {
	n := sshNode(t)
	steps := sequence(t, "sleep 30", "true")
	steps[0].Spec.Timeout, steps[0].Spec.KillGrace = time.Second, time.Second
	res, err := posix.Runner{}.RunSequence(context.Background(), n.dial(), steps, nil, nil)
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.True(t, res[0].TimedOut)
}

// TestSequenceResumesAfterADroppedSession drops the session while the
// second of three steps runs; sending the sequence again collects the
// first, attaches to the second and launches the third: each ran once.
func TestSequenceResumesAfterADroppedSession(t *testing.T) {
	n := sshNode(t)
	work := n.sh("mktemp -d")
	log := work + "/log"
	steps := sequence(t, "echo 1 >> "+log+"; echo first", "echo 2 >> "+log+"; sleep 2; echo second", "echo 3 >> "+log+"; echo third")

	first := n.dial()
	done := make(chan []runner.Result, 1)
	go func() {
		res, _ := posix.Runner{}.RunSequence(context.Background(), first, steps, nil, nil)
		done <- res
	}()
	require.Eventually(t, func() bool { return n.sh("cat "+log+" 2>/dev/null || true") == "1\n2" }, 20*time.Second, 50*time.Millisecond)
	require.NoError(t, first.Close())
	dropped := <-done
	require.LessOrEqual(t, len(dropped), 1, "the second step had not ended")

	res, err := posix.Runner{}.RunSequence(context.Background(), n.dial(), steps, nil, nil)
	require.NoError(t, err)
	require.Len(t, res, 3)
	require.True(t, res[0].Resumed, "collected")
	require.True(t, res[1].Resumed, "attached")
	require.False(t, res[2].Resumed, "launched")
	require.Equal(t, []string{"first\n", "second\n", "third\n"}, []string{res[0].Stdout, res[1].Stdout, res[2].Stdout})
	require.Equal(t, "1\n2\n3", n.sh("cat "+log), "every step ran once")
}
