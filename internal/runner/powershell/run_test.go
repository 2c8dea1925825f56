package powershell_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/runner/powershell"
	"github.com/stead-io/stead/internal/testwinrm"
	"github.com/stead-io/stead/internal/transport"
)

// host is the fake Windows host and a way to reach it.
type host struct {
	srv  *testwinrm.Server
	dial func() transport.Communicator
}

func startHost(t *testing.T) host {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	d := testwinrm.Dialer(t, testwinrm.Password)
	return host{srv: srv, dial: func() transport.Communicator {
		c, err := d.Dial(context.Background(), srv.Target(testwinrm.User, ""))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}}
}

func runID(t *testing.T) string {
	return fmt.Sprintf("test-%s-%d", strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), time.Now().UnixNano())
}

func TestRunReportsOutputAndExitCode(t *testing.T) {
	h := startHost(t)
	c := h.dial()
	tests := []struct {
		name           string
		script         string
		env            []runner.EnvVar
		code           int
		stdout, stderr string
	}{
		{name: "success", script: "Write-Output 'hello'", stdout: "hello\n"},
		{name: "failure", script: "Write-Error 'bad'\nexit 7", code: 7, stderr: "bad\n"},
		{name: "parameters are environment variables", script: "Write-Output \"v=${env:SSM_x}\"", env: []runner.EnvVar{{Name: "SSM_x", Value: "a'b; $(rm -rf /)"}}, stdout: "v=a'b; $(rm -rf /)\n"},
		{name: "unknown command", script: "Get-Nothing\nWrite-Output after", stdout: "after\n", stderr: "The term 'Get-Nothing' is not recognized as the name of a cmdlet (stand-in interpreter of the test host).\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := powershell.Runner{}.Run(context.Background(), c, runner.Spec{RunID: runID(t), Script: tc.script, Env: tc.env}, nil)
			require.NoError(t, err)
			require.Equal(t, tc.code, res.ExitCode)
			require.Equal(t, tc.stdout, res.Stdout)
			require.Equal(t, tc.stderr, res.Stderr)
			require.False(t, res.Resumed)
			require.True(t, strings.HasPrefix(res.RunDir, `C:\ProgramData\Stead\runs\test-`), res.RunDir)
		})
	}
}

// TestRetryCollectsAndAttaches: a second Run of the same run id never runs
// the script again, whether the first finished or is still running, and a
// step survives the connection that started it.
func TestRetryCollectsAndAttaches(t *testing.T) {
	h := startHost(t)
	r := powershell.Runner{}
	spec := runner.Spec{RunID: runID(t), Script: "Start-Sleep -Seconds 2\nWrite-Output done"}

	first := h.dial()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err := first.Run(ctx, powershell.CommandLine(), strings.NewReader(mustStdin(t, spec)), nil, nil)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, first.Close()) // the WinRS shell is deleted; its job dies, the step does not

	res, err := r.Run(context.Background(), h.dial(), spec, nil)
	require.NoError(t, err)
	require.True(t, res.Resumed)
	require.Equal(t, "done\n", res.Stdout)

	again, err := r.Run(context.Background(), h.dial(), spec, nil)
	require.NoError(t, err)
	require.True(t, again.Resumed)
	require.Equal(t, res.Stdout, again.Stdout)
	runs, err := os.ReadDir(h.srv.Host.RunsDir())
	require.NoError(t, err)
	require.Len(t, runs, 1)
}

func mustStdin(t *testing.T, spec runner.Spec) string {
	spec.StdoutLimit, spec.StderrLimit, spec.KillGrace = runner.DefaultStdoutLimit, runner.DefaultStderrLimit, runner.DefaultKillGrace
	in, err := powershell.Stdin(powershell.RunProgram(), powershell.RunParams(spec))
	require.NoError(t, err)
	return in
}

func TestTimeoutOnTheNode(t *testing.T) {
	h := startHost(t)
	start := time.Now()
	res, err := powershell.Runner{}.Run(context.Background(), h.dial(), runner.Spec{RunID: runID(t), Script: "Write-Output start\nStart-Sleep -Seconds 30", Timeout: time.Second, KillGrace: time.Second}, nil)
	require.NoError(t, err)
	require.True(t, res.TimedOut)
	require.Equal(t, "start\n", res.Stdout)
	require.Less(t, time.Since(start), 10*time.Second)
}

func TestCancelStopsTheScript(t *testing.T) {
	h := startHost(t)
	spec := runner.Spec{RunID: runID(t), Script: "Start-Sleep -Seconds 30", KillGrace: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := powershell.Runner{}.Run(ctx, h.dial(), spec, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(h.srv.Host.RunsDir(), spec.RunID, "exitcode"))
		return err == nil
	}, 10*time.Second, 100*time.Millisecond)
}

func TestFetch(t *testing.T) {
	h := startHost(t)
	c := h.dial()
	id := runID(t)
	_, err := powershell.Runner{}.Run(context.Background(), c, runner.Spec{RunID: id, Script: "Write-Output one\nWrite-Output two", StdoutLimit: 4}, nil)
	require.NoError(t, err)
	var b bytes.Buffer
	n, size, err := powershell.Runner{}.Fetch(context.Background(), c, id, runner.Stdout, 100, &b)
	require.NoError(t, err)
	require.Equal(t, "one\ntwo\n", b.String())
	require.EqualValues(t, 8, n)
	require.EqualValues(t, 8, size)
	_, _, err = powershell.Runner{}.Fetch(context.Background(), c, "no-such-run", runner.Stdout, 100, &b)
	require.ErrorContains(t, err, "has no stdout file")
}

// TestRebootChangesTheBootID: Reboot records the boot id, the host
// reboots (its steps die), and a retry of the same reboot does not reboot
// it again.
func TestRebootChangesTheBootID(t *testing.T) {
	h := startHost(t)
	r := powershell.Runner{}
	before, err := r.BootID(context.Background(), h.dial(), "")
	require.NoError(t, err)
	require.NotEmpty(t, before)

	long := runner.Spec{RunID: runID(t) + "-long", Script: "Start-Sleep -Seconds 60"}
	longCtx, stopLong := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err = h.dial().Run(longCtx, powershell.CommandLine(), strings.NewReader(mustStdin(t, long)), nil, nil)
	stopLong()
	require.ErrorIs(t, err, context.DeadlineExceeded)

	id := runID(t)
	from, err := r.Reboot(context.Background(), h.dial(), runner.Reboot{RunID: id})
	require.NoError(t, err)
	require.Equal(t, before, from)

	var after string
	require.Eventually(t, func() bool {
		c, err := testwinrm.Dialer(t, testwinrm.Password).Dial(context.Background(), h.srv.Target(testwinrm.User, ""))
		if err != nil {
			return false
		}
		defer c.Close()
		after, err = r.BootID(context.Background(), c, "")
		return err == nil && after != before
	}, 20*time.Second, 200*time.Millisecond, "the node comes back with a new boot id")

	again, err := r.Reboot(context.Background(), h.dial(), runner.Reboot{RunID: id})
	require.NoError(t, err)
	require.Equal(t, before, again, "the second attempt sees the reboot happened")
	require.Equal(t, after, mustBootID(t, h), "and does not reboot again")

	_, err = r.Run(context.Background(), h.dial(), long, nil)
	require.ErrorIs(t, err, runner.ErrInterrupted, "a step the reboot killed is lost, never started again")
}

func mustBootID(t *testing.T, h host) string {
	id, err := powershell.Runner{}.BootID(context.Background(), h.dial(), "")
	require.NoError(t, err)
	return id
}

func TestSpecsRefused(t *testing.T) {
	h := startHost(t)
	_, err := powershell.Runner{}.Run(context.Background(), h.dial(), runner.Spec{RunID: "..", Script: "x", Sudo: true}, nil)
	require.ErrorContains(t, err, "run id")
	require.ErrorContains(t, err, "sudo does not exist on windows nodes")
}

// TestFiles: a file written for a step reads back, relative paths are the
// profile's, and a missing file or a directory say so.
func TestFiles(t *testing.T) {
	h := startHost(t)
	c := h.dial()
	r := powershell.Runner{}
	content := strings.Repeat("line é\r\n", 30000) // larger than one WinRM envelope
	dest, err := r.Upload(context.Background(), c, `docs\setup.json`, strings.NewReader(content), 0o644)
	require.NoError(t, err)
	require.Equal(t, `C:\Users\stead\docs\setup.json`, dest)
	got, err := r.ReadFile(context.Background(), c, `docs\setup.json`, 1<<20)
	require.NoError(t, err)
	require.Equal(t, content, string(got))
	got, err = r.ReadFile(context.Background(), c, dest, 4)
	require.NoError(t, err)
	require.Equal(t, "line", string(got))

	_, err = r.ReadFile(context.Background(), c, `C:\nowhere.json`, 10)
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = r.ReadFile(context.Background(), c, `docs`, 10)
	require.ErrorIs(t, err, transport.ErrNotRegular)
}

// TestExitCodesAreNotTruncated: Windows exit codes are 32 bits (3010 asks
// for a reboot).
func TestExitCodesAreNotTruncated(t *testing.T) {
	h := startHost(t)
	res, err := powershell.Runner{}.Run(context.Background(), h.dial(), runner.Spec{RunID: runID(t), Script: "exit 3010"}, nil)
	require.NoError(t, err)
	require.Equal(t, 3010, res.ExitCode)
}
