package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/codec"
	"github.com/stead-io/stead/internal/testwinrm"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/worker"
)

// The Windows node of this test is a real OpenSSH sshd in front of the
// emulated host of internal/testwinrm: its sessions start the stand-in
// powershell.exe (the same emulation the fake WinRM server runs) and its
// sftp subsystem serves the host's files under Windows drive paths. No
// Windows host can run here.

// winInner is the document file the Windows node downloads and runs.
const winInner = `{"schemaVersion":"2.2","parameters":{"message":{"type":"String"}},"mainSteps":[
	{"action":"aws:runPowerShellScript","name":"say","inputs":{"runCommand":["Write-Output \"inner {{ message }}\""]}}]}`

func TestWindowsNodeOverOpenSSH(t *testing.T) {
	host := testwinrm.StartOpenSSH(t)
	files := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(files, "inner.json"), []byte(winInner), 0o644))

	c := dialTest(t)
	dialer, err := transport.NewSSHDialer(transport.SSHConfig{Credentials: map[string]string{"default": host.SSHD.KeyFile}})
	require.NoError(t, err)
	pool := transport.NewPool(transport.NewDialer(dialer), time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Options{Client: c, Activities: &activities.Activities{
			Client: c, Namespace: "default", DataConverter: codec.NewDataConverter(codecKeys),
			Nodes: pool, HeartbeatEvery: time.Second, OutputDir: t.TempDir(), Files: files,
		}})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		pool.Close()
		c.Close()
	})

	t.Cleanup(func() { stead(t, "node", "deregister", "win-ssh-1") })
	ok(t, "node", "register", "--id", "win-ssh-1", "--platform", "windows", "--transport", "ssh",
		"--address", "127.0.0.1", "--port", fmt.Sprint(host.SSHD.Port), "--user", host.SSHD.User,
		"--host-key", host.SSHD.HostKey, "--reboot-timeout", "30s")
	writeDocument(t, "win-ssh-steps", `{"schemaVersion":"2.2","parameters":{"name":{"type":"String"}},"mainSteps":[
		{"action":"aws:runPowerShellScript","name":"greet","inputs":{"runCommand":["Write-Output \"hello {{ name }}\"","Write-Error 'a warning'"]}},
		{"action":"aws:downloadContent","name":"fetch","inputs":{"sourceType":"Worker","sourceInfo":{"path":"inner.json"},"destinationPath":"C:\\Stead\\docs\\inner.json"}},
		{"action":"aws:runDocument","name":"nested","inputs":{"documentType":"LocalPath","documentPath":"C:\\Stead\\docs\\inner.json","documentParameters":{"message":"{{ name }}"}}},
		{"action":"aws:runPowerShellScript","name":"reboot","inputs":{"runCommand":["Write-Output before","exit 3010"]}},
		{"action":"aws:runPowerShellScript","name":"after","inputs":{"runCommand":["Write-Output after"]}}]}`)

	before := host.Host.BootID()
	out, _ := runOnce(t, "win-ssh-steps", "win-ssh-steps", "win-ssh-1", `{"name":"it's $(Get-Date)"}`)
	require.Equal(t, contract.StatusSuccess, out.Status, out.DetailedStatus)
	require.Equal(t, "greet=Success/0 fetch=Success/0 nested.say=Success/0 reboot=Success/3010 after=Success/0", stepStatuses(out))
	require.Equal(t, "hello it's $(Get-Date)\n", out.Output[0].Stdout, "the parameter stayed data")
	require.Equal(t, "a warning\n", out.Output[0].Stderr)
	require.Contains(t, out.Output[1].Stdout, `to C:\Stead\docs\inner.json`, "written over SFTP by its drive path")
	require.Equal(t, "inner it's $(Get-Date)\n", out.Output[2].Stdout, "the downloaded document ran")
	require.Contains(t, out.Steps[3].DetailedStatus, "rebooted (exit code 3010): boot id "+before+", then "+host.Host.BootID())
	require.NotEqual(t, before, host.Host.BootID())
	require.Equal(t, "after\n", out.Output[4].Stdout)
	require.Equal(t, 4, host.Host.Launches(), "each script step started once")
}
