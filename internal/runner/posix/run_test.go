package posix_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/runner/posix"
	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/transport"
)

// node is a connection factory for one test host.
type node struct {
	t    *testing.T
	dial func() transport.Communicator
}

// sshNode starts sshd and returns a factory for connections to it.
func sshNode(t *testing.T) node {
	srv := testsshd.Start(t)
	d := srv.Dialer(t)
	return node{t: t, dial: func() transport.Communicator {
		c, err := d.Dial(context.Background(), srv.Target("127.0.0.1"))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}}
}

// sh runs cmd on a fresh connection and returns its trimmed stdout.
func (n node) sh(cmd string) string {
	n.t.Helper()
	var out, errOut bytes.Buffer
	code, err := n.dial().Run(context.Background(), cmd, nil, &out, &errOut)
	require.NoError(n.t, err)
	require.Equal(n.t, 0, code, "%s: %s", cmd, errOut.String())
	return strings.TrimSpace(out.String())
}

// gone reports whether pid has ended on the node (a zombie counts as
// ended: this host's init may not reap orphans).
func (n node) gone(pid string) bool {
	return n.sh(`case "$(ps -o stat= -p `+pid+`)" in ""|Z*) echo gone;; esac`) == "gone"
}

// runID returns a run id no other test uses.
func runID(t *testing.T) string {
	return fmt.Sprintf("test-%s-%d", strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), time.Now().UnixNano())
}

func TestRunReportsOutputAndExitCode(t *testing.T) {
	n := sshNode(t)
	tests := []struct {
		name           string
		script         string
		code           int
		stdout, stderr string
	}{
		{name: "success", script: "echo hello", stdout: "hello\n"},
		{name: "failure", script: "echo bad >&2\nexit 7", code: 7, stderr: "bad\n"},
		{name: "no trailing newline", script: "printf 'a\\nb'", stdout: "a\nb"},
		{name: "both streams", script: "echo out; echo err >&2; false", code: 1, stdout: "out\n", stderr: "err\n"},
		{name: "killed by signal", script: "kill -KILL $$", code: 137},
		{name: "reads no stdin", script: "cat; echo done", stdout: "done\n"},
		{name: "runs in home", script: "pwd", stdout: "/home/" + testsshd.UserName + "\n"},
		{name: "a shebang picks the interpreter", script: "#!/bin/bash\n[[ -n $BASH_VERSION ]] && echo bash", stdout: "bash\n"},
		{name: "a shebang with an argument", script: "#!/bin/sh -e\nfalse\necho not reached", code: 1},
		{name: "no shebang runs sh", script: "[ -z \"$BASH_VERSION\" ] && echo sh", stdout: "sh\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := posix.Runner{}.Run(context.Background(), n.dial(), runner.Spec{RunID: runID(t), Script: tc.script}, nil)
			require.NoError(t, err)
			require.Equal(t, tc.code, res.ExitCode)
			require.Equal(t, tc.stdout, res.Stdout)
			require.Equal(t, tc.stderr, res.Stderr)
			require.False(t, res.Resumed)
			require.False(t, res.TimedOut)
			require.Equal(t, int64(len(tc.stdout)), res.StdoutBytes)
			require.True(t, strings.HasPrefix(res.RunDir, "/home/"+testsshd.UserName+"/.stead/runs/test-"), res.RunDir)
		})
	}
}

func TestRunPassesEnvironmentAsData(t *testing.T) {
	n := sshNode(t)
	work := n.sh("mktemp -d")
	values := []runner.EnvVar{
		{Name: "SEMI", Value: "x; touch pwned1"},
		{Name: "SUBST", Value: "$(touch pwned2)"},
		{Name: "BACKTICK", Value: "`touch pwned3`"},
		{Name: "QUOTES", Value: `it's "quoted" \ 'twice'`},
		{Name: "NEWLINE", Value: "line1\nline2\n"},
		{Name: "EMPTY", Value: ""},
		{Name: "SPACES", Value: "  padded  "},
		{Name: "GLOB", Value: "*"},
		{Name: "UNICODE", Value: "héllo ✓"},
	}
	var script strings.Builder
	for _, v := range values {
		fmt.Fprintf(&script, "printf '%%s\\0' \"$%s\"\n", v.Name)
	}
	script.WriteString("ls -A\n")
	res, err := posix.Runner{}.Run(context.Background(), n.dial(), runner.Spec{
		RunID: runID(t), Script: script.String(), Env: values, WorkingDirectory: work,
	}, nil)
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	got := strings.Split(res.Stdout, "\x00")
	require.Len(t, got, len(values)+1)
	for i, v := range values {
		require.Equal(t, v.Value, got[i], v.Name)
	}
	require.Empty(t, got[len(values)], "nothing was created in the working directory")
	require.Empty(t, n.sh("ls -A "+work))
	require.Empty(t, n.sh("cd && ls -d pwned* 2>/dev/null || true"))
	require.Equal(t, "absent", n.sh("test -e "+res.RunDir+"/env && echo present || echo absent"), "the env file is deleted once read")
}

func TestRunRejectsBadSpecs(t *testing.T) {
	tests := map[string]runner.Spec{
		"empty run id":     {RunID: "", Script: "true"},
		"slash in run id":  {RunID: "a/b", Script: "true"},
		"dot dot run id":   {RunID: "..", Script: "true"},
		"bad env name":     {RunID: "x", Script: "true", Env: []runner.EnvVar{{Name: "A-B", Value: "v"}}},
		"digit env name":   {RunID: "x", Script: "true", Env: []runner.EnvVar{{Name: "1A", Value: "v"}}},
		"nul in env value": {RunID: "x", Script: "true", Env: []runner.EnvVar{{Name: "A", Value: "a\x00b"}}},
		"nul in script":    {RunID: "x", Script: "true\x00"},
		"negative timeout": {RunID: "x", Script: "true", Timeout: -time.Second},
	}
	for name, spec := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := posix.Runner{}.Run(context.Background(), nil, spec, nil)
			require.Error(t, err)
		})
	}
}

func TestRunTimeout(t *testing.T) {
	n := sshNode(t)
	spec := runner.Spec{
		RunID:            runID(t),
		Script:           "echo started\nsleep 60 &\necho $! > sleep.pid\nwait",
		Timeout:          time.Second,
		KillGrace:        time.Second,
		WorkingDirectory: n.sh("mktemp -d"),
	}
	start := time.Now()
	res, err := posix.Runner{}.Run(context.Background(), n.dial(), spec, nil)
	require.NoError(t, err)
	require.True(t, res.TimedOut)
	require.NotEqual(t, 0, res.ExitCode)
	require.Equal(t, "started\n", res.Stdout)
	require.Less(t, time.Since(start), 15*time.Second)
	require.True(t, n.gone(n.sh("cat "+spec.WorkingDirectory+"/sleep.pid")), "the script's processes are gone")
}

func TestRunCancelKillsTheStep(t *testing.T) {
	n := sshNode(t)
	work := n.sh("mktemp -d")
	spec := runner.Spec{RunID: runID(t), Script: "echo $$ > step.pid\nexec sleep 60", WorkingDirectory: work, KillGrace: time.Second}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := posix.Runner{}.Run(ctx, n.dial(), spec, nil)
		done <- err
	}()
	require.Eventually(t, func() bool { return n.sh("cat "+work+"/step.pid 2>/dev/null || true") != "" }, 10*time.Second, 50*time.Millisecond)
	pid := n.sh("cat " + work + "/step.pid")
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	require.True(t, n.gone(pid), "the step was killed")
}

func TestRunSurvivesDroppedConnection(t *testing.T) {
	n := sshNode(t)
	work := n.sh("mktemp -d")
	spec := runner.Spec{
		RunID:            runID(t),
		Script:           "echo ran >> count\nsleep 2\necho finished",
		WorkingDirectory: work,
	}

	first := n.dial()
	done := make(chan error, 1)
	go func() {
		_, err := posix.Runner{}.Run(context.Background(), first, spec, nil)
		done <- err
	}()
	require.Eventually(t, func() bool { return n.sh("cat "+work+"/count 2>/dev/null || true") != "" }, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, first.Close())
	require.Error(t, <-done, "the first attempt lost its connection")

	res, err := posix.Runner{}.Run(context.Background(), n.dial(), spec, nil)
	require.NoError(t, err)
	require.True(t, res.Resumed, "the second attempt attached")
	require.Equal(t, 0, res.ExitCode)
	require.Equal(t, "finished\n", res.Stdout)
	require.Equal(t, "ran", n.sh("cat "+work+"/count"), "the script ran once")

	again, err := posix.Runner{}.Run(context.Background(), n.dial(), spec, nil)
	require.NoError(t, err)
	require.True(t, again.Resumed)
	require.Equal(t, res, again, "a finished run is collected, not re-run")
	require.Equal(t, "ran", n.sh("cat "+work+"/count"))
}

func TestRunReportsInterruptedRuns(t *testing.T) {
	n := sshNode(t)
	work := n.sh("mktemp -d")
	spec := runner.Spec{RunID: runID(t), Script: "echo ran >> count\necho partial\nexec sleep 60", WorkingDirectory: work}

	first := n.dial()
	done := make(chan error, 1)
	go func() {
		_, err := posix.Runner{}.Run(context.Background(), first, spec, nil)
		done <- err
	}()
	require.Eventually(t, func() bool { return n.sh("cat "+work+"/count 2>/dev/null || true") != "" }, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, first.Close())
	<-done
	// Kill the wrapper and the step as a reboot would.
	dir := "$HOME/.stead/runs/" + spec.RunID
	n.sh("kill -KILL $(cat " + dir + "/pid) -$(cat " + dir + "/group)")

	res, err := posix.Runner{}.Run(context.Background(), n.dial(), spec, nil)
	require.ErrorIs(t, err, runner.ErrInterrupted)
	require.Equal(t, -1, res.ExitCode)
	require.Equal(t, "partial\n", res.Stdout)
	require.Equal(t, "ran", n.sh("cat "+work+"/count"), "the step was not started again")
}

func TestRunHeartbeats(t *testing.T) {
	defer posix.SetHeartbeatInterval(100 * time.Millisecond)()
	n := sshNode(t)
	var beats atomic.Int32
	res, err := posix.Runner{}.Run(context.Background(), n.dial(), runner.Spec{RunID: runID(t), Script: "sleep 1"}, func() { beats.Add(1) })
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode)
	after := beats.Load()
	require.GreaterOrEqual(t, after, int32(5))
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, after, beats.Load(), "no heartbeat after Run returns")
}

func TestRunTruncatesOutput(t *testing.T) {
	n := sshNode(t)
	res, err := posix.Runner{}.Run(context.Background(), n.dial(), runner.Spec{
		RunID:       runID(t),
		Script:      "i=0; while [ $i -lt 100 ]; do printf 'é'; i=$((i+1)); done; printf 'abcdef' >&2",
		StdoutLimit: 11,
		StderrLimit: 4,
	}, nil)
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("é", 5), res.Stdout)
	require.True(t, utf8.ValidString(res.Stdout))
	require.True(t, res.StdoutTruncated)
	require.Equal(t, int64(200), res.StdoutBytes)
	require.Equal(t, "abcd", res.Stderr)
	require.True(t, res.StderrTruncated)
	require.Equal(t, int64(6), res.StderrBytes)
}

func TestRunLocal(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	c, err := transport.LocalDialer{}.Dial(context.Background(), transport.Target{Kind: transport.KindLocal})
	require.NoError(t, err)
	spec := runner.Spec{RunID: runID(t), Script: "echo \"$GREETING\"; exit 3", Env: []runner.EnvVar{{Name: "GREETING", Value: "hi 'there'"}}}
	res, err := posix.Runner{}.Run(context.Background(), c, spec, nil)
	require.NoError(t, err)
	require.Equal(t, 3, res.ExitCode)
	require.Equal(t, "hi 'there'\n", res.Stdout)
	require.Equal(t, home+"/.stead/runs/"+spec.RunID, res.RunDir)
	b, err := os.ReadFile(res.RunDir + "/exitcode")
	require.NoError(t, err)
	require.Equal(t, "3\n", string(b))
}

func TestRunPrunesOldRuns(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	c, err := transport.LocalDialer{}.Dial(context.Background(), transport.Target{Kind: transport.KindLocal})
	require.NoError(t, err)
	defer posix.SetToday("20261201")()
	old, err := posix.Runner{}.Run(context.Background(), c, runner.Spec{RunID: "old", Script: "true"}, nil)
	require.NoError(t, err)
	recent, err := posix.Runner{}.Run(context.Background(), c, runner.Spec{RunID: "recent", Script: "true"}, nil)
	require.NoError(t, err)
	weekAgo := time.Now().Add(-8 * 24 * time.Hour)
	require.NoError(t, os.Chtimes(old.RunDir, weekAgo, weekAgo))

	// Pruned today already: the week-old run stays until tomorrow.
	_, err = posix.Runner{}.Run(context.Background(), c, runner.Spec{RunID: "new", Script: "true"}, nil)
	require.NoError(t, err)
	require.DirExists(t, old.RunDir)
	require.FileExists(t, home+"/.stead/runs/.pruned-20261201")

	defer posix.SetToday("20261202")()
	_, err = posix.Runner{}.Run(context.Background(), c, runner.Spec{RunID: "newer", Script: "true"}, nil)
	require.NoError(t, err)
	require.NoDirExists(t, old.RunDir)
	require.DirExists(t, recent.RunDir)
	require.FileExists(t, home+"/.stead/runs/.pruned-20261202")
	require.NoFileExists(t, home+"/.stead/runs/.pruned-20261201", "one marker, the day's")
}

// Attempts that race for one run id (a retry sent while the first attempt
// still launches) run its step once, and every attempt reports its result:
// none mistakes the wrapper, caught between fork and exec, for a lost run.
func TestRacingAttemptsRunOnce(t *testing.T) {
	n := sshNode(t)
	work := n.sh("mktemp -d")
	const runs, attempts = 20, 4
	for r := range runs {
		spec := runner.Spec{RunID: runID(t), Script: fmt.Sprintf("echo ran >> count%d\necho done", r), WorkingDirectory: work}
		conns := make([]transport.Communicator, attempts)
		for i := range conns {
			conns[i] = n.dial()
		}
		errs := make(chan error, attempts)
		for _, c := range conns {
			go func() {
				res, err := posix.Runner{}.Run(context.Background(), c, spec, nil)
				if err == nil && (res.ExitCode != 0 || res.Stdout != "done\n") {
					err = fmt.Errorf("exit %d, stdout %q", res.ExitCode, res.Stdout)
				}
				errs <- err
			}()
		}
		for range attempts {
			require.NoError(t, <-errs, "run %d", r)
		}
		require.Equal(t, "ran", n.sh(fmt.Sprintf("cat %s/count%d", work, r)), "run %d ran once", r)
	}
}
