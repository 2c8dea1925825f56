package posix_test

import (
	"context"
	"io"
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

// traced is the worker's own host as a node, with every command run under
// strace, which follows every process the command starts, detached or not,
// until the last of them ends.
type traced struct {
	transport.Communicator
	log string
}

func (c traced) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return c.Communicator.Run(ctx, "strace -f -qq -o "+c.log+" -e trace=execve "+cmd, stdin, stdout, stderr)
}

// nodeProcesses returns how many processes a strace log shows, and how
// many programs they executed.
func nodeProcesses(t *testing.T, log string) (processes, execs int) {
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	pids := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		pid, _, _ := strings.Cut(line, " ")
		pids[pid] = true
		// A successful execve, whole or resumed after another process's
		// call came between (the shell's PATH search fails on the way).
		if strings.Contains(line, "execve") && strings.HasSuffix(strings.TrimSpace(line), "= 0") {
			execs++
		}
	}
	return len(pids), execs
}

// TestRunStartsFewNodeProcesses counts the processes a one-step `true`
// starts on the node, the session's shell included: every one is a fork
// and exec a busy node pays for each step.
func TestRunStartsFewNodeProcesses(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is not installed; .ci/run installs it")
	}
	local, err := transport.LocalDialer{}.Dial(context.Background(), transport.Target{Kind: transport.KindLocal})
	require.NoError(t, err)
	tests := []struct {
		name            string
		timeout         time.Duration
		processes       int
		execs           int
		stepsInSequence int
	}{
		// The session's sh, one mkdir, the wrapper (setsid, then sh) and
		// the script (setsid, then sh).
		{name: "no timeout", processes: 4, execs: 6, stepsInSequence: 1},
		// The timeout adds the wrapper's sleep.
		{name: "timeout", timeout: time.Hour, processes: 5, execs: 7, stepsInSequence: 1},
		// 20 steps in one session: one sh and one mkdir for all of them,
		// then the wrapper, the script and the sleep per step.
		{name: "20 steps in one session", timeout: time.Hour, processes: 2 + 3*20, execs: 2 + 5*20, stepsInSequence: 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A fresh home: no runs to prune, which a node does once a
			// day (rm and find).
			t.Setenv("HOME", t.TempDir())
			c := traced{Communicator: local, log: filepath.Join(t.TempDir(), "strace")}
			steps := make([]runner.SequenceStep, tc.stepsInSequence)
			for i := range steps {
				steps[i] = runner.SequenceStep{Spec: runner.Spec{RunID: runID(t) + "-" + string(rune('a'+i)), Script: "true", Timeout: tc.timeout}, Continue: true}
			}
			res, err := posix.Runner{}.RunSequence(context.Background(), c, steps, nil, nil)
			require.NoError(t, err)
			require.Len(t, res, tc.stepsInSequence)
			for _, r := range res {
				require.Equal(t, 0, r.ExitCode)
				require.False(t, r.TimedOut)
			}
			processes, execs := nodeProcesses(t, c.log)
			t.Logf("%s: %d node processes, %d programs executed", tc.name, processes, execs)
			require.Equal(t, tc.processes, processes)
			// A timeout's sleep that the script outruns can be stopped
			// before it executes sleep: its process counts, its program
			// may not.
			sleeps := 0
			if tc.timeout > 0 {
				sleeps = tc.stepsInSequence
			}
			require.LessOrEqual(t, execs, tc.execs)
			require.GreaterOrEqual(t, execs, tc.execs-sleeps)
		})
	}
}
