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

func TestMain(m *testing.M) {
	if code, ok := testwinrm.StandIn(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// host is an emulated Windows host and a way to reach it.
type host struct {
	*testwinrm.Host
	// tryDial connects to the host; dial fails the test if it cannot.
	tryDial func() (transport.Communicator, error)
}

func (h host) dial(t *testing.T) transport.Communicator {
	c, err := h.tryDial()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// onEachHost runs test against the emulated host reached both ways a
// Windows node is: over WinRM (the fake server) and over OpenSSH (a real
// sshd in front of the stand-in powershell.exe).
func onEachHost(t *testing.T, test func(t *testing.T, h host)) {
	t.Run("winrm", func(t *testing.T) {
		srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
		d := testwinrm.Dialer(t, testwinrm.Password)
		test(t, host{Host: srv.Host, tryDial: func() (transport.Communicator, error) {
			return d.Dial(context.Background(), srv.Target(testwinrm.User, ""))
		}})
	})
	t.Run("openssh", func(t *testing.T) {
		o := testwinrm.StartOpenSSH(t)
		d := o.SSHD.Dialer(t)
		test(t, host{Host: o.Host, tryDial: func() (transport.Communicator, error) {
			return d.Dial(context.Background(), o.Target())
		}})
	})
}

func runID(t *testing.T) string {
	return fmt.Sprintf("test-%s-%d", strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), time.Now().UnixNano())
}

func TestRunReportsOutputAndExitCode(t *testing.T) {
	onEachHost(t, func(t *testing.T, h host) {
		c := h.dial(t)
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
	})
}

// TestRetryCollectsAndAttaches: a second Run of the same run id never runs
// the script again, whether the first finished or is still running, and a
// step survives the connection that started it.
func TestRetryCollectsAndAttaches(t *testing.T) {
	onEachHost(t, func(t *testing.T, h host) {
		r := powershell.Runner{}
		spec := runner.Spec{RunID: runID(t), Script: "Start-Sleep -Seconds 2\nWrite-Output done"}

		first := h.dial(t)
		launchAndLeave(t, h, first, spec)
		require.NoError(t, first.Close()) // the WinRS shell or SSH session ends; its processes die, the step does not

		res, err := r.Run(context.Background(), h.dial(t), spec, nil)
		require.NoError(t, err)
		require.True(t, res.Resumed)
		require.Equal(t, "done\n", res.Stdout)

		again, err := r.Run(context.Background(), h.dial(t), spec, nil)
		require.NoError(t, err)
		require.True(t, again.Resumed)
		require.Equal(t, res.Stdout, again.Stdout)
		runs, err := os.ReadDir(h.RunsDir())
		require.NoError(t, err)
		require.Len(t, runs, 1)
	})
}

// launchAndLeave starts spec's step through c and walks away once the host
// has launched it, as a worker that dies mid-step does.
func launchAndLeave(t *testing.T, h host, c transport.Communicator, spec runner.Spec) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cancelOnLaunch(t, h, h.Launches(), cancel)
	_, err := c.Run(ctx, powershell.CommandLine(), strings.NewReader(mustStdin(t, spec)), nil, nil)
	require.ErrorIs(t, err, context.Canceled)
}

// cancelOnLaunch calls cancel once the host has launched more steps than
// before.
func cancelOnLaunch(t *testing.T, h host, before int, cancel func()) {
	defer cancel()
	for deadline := time.Now().Add(30 * time.Second); h.Launches() == before && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

func mustStdin(t *testing.T, spec runner.Spec) string {
	spec.StdoutLimit, spec.StderrLimit, spec.KillGrace = runner.DefaultStdoutLimit, runner.DefaultStderrLimit, runner.DefaultKillGrace
	in, err := powershell.Stdin(powershell.RunProgram(), powershell.RunParams(spec))
	require.NoError(t, err)
	return in
}

func TestTimeoutOnTheNode(t *testing.T) {
	onEachHost(t, func(t *testing.T, h host) {
		start := time.Now()
		res, err := powershell.Runner{}.Run(context.Background(), h.dial(t), runner.Spec{RunID: runID(t), Script: "Write-Output start\nStart-Sleep -Seconds 30", Timeout: time.Second, KillGrace: time.Second}, nil)
		require.NoError(t, err)
		require.True(t, res.TimedOut)
		require.Equal(t, "start\n", res.Stdout)
		require.Less(t, time.Since(start), 10*time.Second)
	})
}

func TestCancelStopsTheScript(t *testing.T) {
	onEachHost(t, func(t *testing.T, h host) {
		spec := runner.Spec{RunID: runID(t), Script: "Start-Sleep -Seconds 30", KillGrace: time.Second}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go cancelOnLaunch(t, h, h.Launches(), cancel)
		_, err := powershell.Runner{}.Run(ctx, h.dial(t), spec, nil)
		require.ErrorIs(t, err, context.Canceled)
		require.Eventually(t, func() bool {
			_, err := os.Stat(filepath.Join(h.RunsDir(), spec.RunID, "exitcode"))
			return err == nil
		}, 10*time.Second, 100*time.Millisecond)
	})
}

func TestFetch(t *testing.T) {
	onEachHost(t, func(t *testing.T, h host) {
		c := h.dial(t)
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
	})
}

// TestRebootChangesTheBootID: Reboot records the boot id, the host
// reboots (its steps die), and a retry of the same reboot does not reboot
// it again.
func TestRebootChangesTheBootID(t *testing.T) {
	onEachHost(t, func(t *testing.T, h host) {
		r := powershell.Runner{}
		before, err := r.BootID(context.Background(), h.dial(t), "")
		require.NoError(t, err)
		require.NotEmpty(t, before)

		long := runner.Spec{RunID: runID(t) + "-long", Script: "Start-Sleep -Seconds 60"}
		launchAndLeave(t, h, h.dial(t), long)

		id := runID(t)
		from, err := r.Reboot(context.Background(), h.dial(t), runner.Reboot{RunID: id})
		require.NoError(t, err)
		require.Equal(t, before, from)

		var after string
		require.Eventually(t, func() bool {
			c, err := h.tryDial()
			if err != nil {
				return false
			}
			defer c.Close()
			after, err = r.BootID(context.Background(), c, "")
			return err == nil && after != before
		}, 20*time.Second, 200*time.Millisecond, "the node comes back with a new boot id")

		again, err := r.Reboot(context.Background(), h.dial(t), runner.Reboot{RunID: id})
		require.NoError(t, err)
		require.Equal(t, before, again, "the second attempt sees the reboot happened")
		require.Equal(t, after, mustBootID(t, h), "and does not reboot again")

		_, err = r.Run(context.Background(), h.dial(t), long, nil)
		require.ErrorIs(t, err, runner.ErrInterrupted, "a step the reboot killed is lost, never started again")
	})
}

func mustBootID(t *testing.T, h host) string {
	id, err := powershell.Runner{}.BootID(context.Background(), h.dial(t), "")
	require.NoError(t, err)
	return id
}

func TestSpecsRefused(t *testing.T) {
	onEachHost(t, func(t *testing.T, h host) {
		_, err := powershell.Runner{}.Run(context.Background(), h.dial(t), runner.Spec{RunID: "..", Script: "x", Sudo: true}, nil)
		require.ErrorContains(t, err, "run id")
		require.ErrorContains(t, err, "sudo does not exist on windows nodes")
	})
}

// TestFiles: a file written for a step reads back, relative paths are the
// profile's, and a missing file or a directory say so.
func TestFiles(t *testing.T) {
	onEachHost(t, func(t *testing.T, h host) {
		c := h.dial(t)
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

		// A drive path: over OpenSSH the file goes through SFTP as /C:/Temp/....
		dest, err = r.Upload(context.Background(), c, `C:\Temp\stead\tool.ps1`, strings.NewReader("Write-Output tool"), 0o644)
		require.NoError(t, err)
		require.Equal(t, `C:\Temp\stead\tool.ps1`, dest)
		got, err = r.ReadFile(context.Background(), c, dest, 100)
		require.NoError(t, err)
		require.Equal(t, "Write-Output tool", string(got))

		_, err = r.ReadFile(context.Background(), c, `C:\nowhere.json`, 10)
		require.ErrorIs(t, err, fs.ErrNotExist)
		_, err = r.ReadFile(context.Background(), c, `docs`, 10)
		require.ErrorIs(t, err, transport.ErrNotRegular)
	})
}

// TestExitCodesAreNotTruncated: Windows exit codes are 32 bits (3010 asks
// for a reboot).
func TestExitCodesAreNotTruncated(t *testing.T) {
	onEachHost(t, func(t *testing.T, h host) {
		res, err := powershell.Runner{}.Run(context.Background(), h.dial(t), runner.Spec{RunID: runID(t), Script: "exit 3010"}, nil)
		require.NoError(t, err)
		require.Equal(t, 3010, res.ExitCode)
	})
}
