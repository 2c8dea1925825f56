package cli_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/codec"
	"github.com/stead-io/stead/internal/testkdc"
	"github.com/stead-io/stead/internal/testwinrm"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/internal/transport/winrm"
	"github.com/stead-io/stead/worker"
)

// The Windows node of these tests is the fake of internal/testwinrm: a
// real WinRM server over HTTPS (and over plain HTTP with NTLM message
// encryption) that emulates the PowerShell runner's programs, since no
// Windows host can run here.

// winCredential is the worker's credential name for the fake host.
const winCredential = "win"

// goodCredential always holds the fake host's password.
const goodCredential = "win-ok"

// startWindowsWorker runs an in-process worker whose WinRM credential
// "win" is Basic with password, "win-ok" NTLM with the right one, and
// more as extra gives them.
func startWindowsWorker(t *testing.T, password string, extra ...map[string]winrm.Credential) {
	c := dialTest(t)
	creds := map[string]winrm.Credential{
		winCredential:  {Auth: winrm.AuthBasic, PasswordFile: testwinrm.PasswordFile(t, password)},
		goodCredential: {Auth: winrm.AuthNTLM, PasswordFile: testwinrm.PasswordFile(t, testwinrm.Password)},
	}
	for _, e := range extra {
		maps.Copy(creds, e)
	}
	d, err := winrm.NewDialer(winrm.Config{Credentials: creds})
	require.NoError(t, err)
	pool := transport.NewPool(transport.NewRegistry(map[string]transport.Protocol{winrm.Kind: d}), time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Options{
			Client: c,
			Activities: &activities.Activities{
				Client: c, Namespace: "default", DataConverter: codec.NewDataConverter(codecKeys),
				Nodes: pool, HeartbeatEvery: time.Second, OutputDir: t.TempDir(),
			},
		})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		pool.Close()
		c.Close()
	})
}

// registerWindows registers node id on the fake host, pinning its
// certificate, with the worker's credential "win".
func registerWindows(t *testing.T, id string, srv *testwinrm.Server, extra ...string) {
	registerWindowsWith(t, id, srv, winCredential, extra...)
}

// registerWindowsWith registers node id on the fake host with credential.
func registerWindowsWith(t *testing.T, id string, srv *testwinrm.Server, credential string, extra ...string) {
	t.Cleanup(func() { stead(t, "node", "deregister", id) })
	ok(t, append([]string{"node", "register", "--id", id, "--platform", "windows", "--transport", "winrm",
		"--address", "127.0.0.1", "--port", fmt.Sprint(srv.Port), "--user", testwinrm.User,
		"--credential", credential, "--host-key", srv.Fingerprint(), "--reboot-timeout", "30s"}, extra...)...)
}

// writeDocument registers a document from its JSON content.
func writeDocument(t *testing.T, name, content string) {
	file := filepath.Join(t.TempDir(), name+".json")
	require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
	ok(t, "document", "create", "--name", name, "--file", file)
	t.Cleanup(func() { stead(t, "document", "delete", name) })
}

func TestWindowsNodeRunsPowerShellOverWinRM(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	startWindowsWorker(t, testwinrm.Password)
	registerWindows(t, "win-1", srv)

	writeDocument(t, "win-steps", `{"schemaVersion":"2.2","parameters":{"name":{"type":"String"}},"mainSteps":[
		{"action":"aws:runPowerShellScript","name":"greet","inputs":{"runCommand":["Write-Output \"hello {{ name }}\"","Write-Error 'a warning'"]}},
		{"action":"aws:runPowerShellScript","name":"reboot","inputs":{"runCommand":["Write-Output before","exit 3010"]}},
		{"action":"aws:runPowerShellScript","name":"after","inputs":{"runCommand":["Write-Output after"]}},
		{"action":"aws:runPowerShellScript","name":"fail","inputs":{"runCommand":["exit 7"]}}]}`)
	before := srv.Host.BootID()
	out, errs, code := stead(t, "association", "create", "--name", "win-steps", "--document", "win-steps",
		"--targets", "Key=InstanceIds,Values=win-1", "--parameters", `{"name":"it's $(Get-Date)"}`, "--wait")
	require.Equal(t, 1, code, out+errs)
	outs := targetsJSON(t, "win-steps", execID(t, out))
	require.Len(t, outs, 1)
	o := outs[0]
	require.Equal(t, contract.StatusFailed, o.Status, o.DetailedStatus)
	require.Len(t, o.Output, 4)
	require.Equal(t, "hello it's $(Get-Date)\n", o.Output[0].Stdout, "the parameter stayed data")
	require.Equal(t, "a warning\n", o.Output[0].Stderr)
	require.Equal(t, 0, o.Output[0].ExitCode)
	require.Equal(t, 3010, o.Output[1].ExitCode)
	require.Equal(t, contract.StatusSuccess, o.Steps[1].Status)
	require.Contains(t, o.Steps[1].DetailedStatus, "rebooted (exit code 3010): boot id "+before+", then "+srv.Host.BootID())
	require.NotEqual(t, before, srv.Host.BootID())
	require.Equal(t, "after\n", o.Output[2].Stdout, "the next step ran on the rebooted host")
	require.Equal(t, 7, o.Output[3].ExitCode)
	require.Equal(t, contract.StatusFailed, o.Steps[3].Status)
	require.Equal(t, "exit code 7", o.Steps[3].DetailedStatus)
	require.Equal(t, 4, srv.Host.Launches(), "each step started once")
	ok(t, "association", "delete", "win-steps")
}

func TestWinRMTrustAndCredentialsAreUndeliverable(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	other := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	// srv maps client certificates its CA issues; the worker holds one
	// another CA issued.
	srv.IssueClientCertificate(t, testwinrm.User)
	startWindowsWorker(t, "not-the-password", map[string]winrm.Credential{
		"win-cert": {Auth: winrm.AuthCertificate, PasswordFile: other.IssueClientCertificate(t, testwinrm.User)},
	})
	registerWindows(t, "win-badpw", srv)
	registerWindowsWith(t, "win-badcert", srv, "win-cert")
	registerWindowsWith(t, "win-mitm", other, goodCredential)
	other.RotateCertificate(t)

	for _, tc := range []struct{ node, kind string }{{"win-badpw", "AuthFailed"}, {"win-badcert", "AuthFailed"}, {"win-mitm", "HostKeyMismatch"}} {
		name := "undeliverable-" + tc.node
		out, errs, code := stead(t, "association", "create", "--name", name, "--document", "AWS-RunPowerShellScript",
			"--targets", "Key=InstanceIds,Values="+tc.node, "--parameters", `{"commands":["Write-Output should-not-run"]}`, "--wait")
		require.Equal(t, 1, code, out+errs)
		outs := targetsJSON(t, name, execID(t, out))
		require.Len(t, outs, 1)
		require.Equal(t, contract.StatusUndeliverable, outs[0].Status, outs[0].DetailedStatus)
		require.Contains(t, outs[0].DetailedStatus, tc.kind)
		ok(t, "association", "delete", name)
	}
	require.Zero(t, srv.Host.Launches()+other.Host.Launches(), "nothing ran")

	// Plain HTTP only when asked for, with a warning; its port is 5985.
	t.Cleanup(func() { stead(t, "node", "deregister", "win-http") })
	_, errs, code := stead(t, "node", "register", "--id", "win-http", "--platform", "windows", "--transport", "winrm",
		"--address", "127.0.0.1", "--user", testwinrm.User, "--winrm-insecure-http")
	require.Equal(t, 0, code, errs)
	require.Contains(t, errs, "warning: node win-http: winrm over plain HTTP authenticates neither the node nor the traffic")
	require.Contains(t, ok(t, "node", "describe", "win-http"), "5985")

	// `node trust` shows the new certificate, refuses to re-pin it silently,
	// and pins it once the operator vouches for it; then the node is reached.
	fails(t, "is pinned", "node", "trust", "win-mitm", "--yes")
	out := ok(t, "node", "trust", "win-mitm", "--replace", "--fingerprint", strings.ToUpper(other.Fingerprint()))
	require.Contains(t, out, "pinned host key "+other.Fingerprint())
	out = ok(t, "association", "create", "--name", "win-repinned", "--document", "AWS-RunPowerShellScript",
		"--targets", "Key=InstanceIds,Values=win-mitm", "--parameters", `{"commands":["Write-Output reached"]}`, "--wait")
	require.Equal(t, "reached\n", targetsJSON(t, "win-repinned", execID(t, out))[0].Output[0].Stdout)
	ok(t, "association", "delete", "win-repinned")
}

// TestWindowsNodeOverSealedHTTP: a node reached on the fake host's plain
// HTTP listener, which refuses unencrypted SOAP as Windows' default one
// does, with an NTLM credential and --winrm-http (not
// --winrm-insecure-http) runs a PowerShell step: every message sealed.
func TestWindowsNodeOverSealedHTTP(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	startWindowsWorker(t, testwinrm.Password)
	t.Cleanup(func() { stead(t, "node", "deregister", "win-sealed") })
	_, errs, code := stead(t, "node", "register", "--id", "win-sealed", "--platform", "windows", "--transport", "winrm",
		"--address", "127.0.0.1", "--port", fmt.Sprint(srv.HTTPPort), "--user", testwinrm.User, "--credential", goodCredential, "--winrm-http")
	require.Equal(t, 0, code, errs)
	require.NotContains(t, errs, "warning")
	fails(t, "presents no certificate", "node", "trust", "win-sealed", "--yes")

	out := ok(t, "association", "create", "--name", "win-sealed", "--document", "AWS-RunPowerShellScript",
		"--targets", "Key=InstanceIds,Values=win-sealed", "--parameters", `{"commands":["Write-Output 'over sealed http'","Write-Output done"]}`, "--wait")
	outs := targetsJSON(t, "win-sealed", execID(t, out))
	require.Len(t, outs, 1)
	require.Equal(t, contract.StatusSuccess, outs[0].Status, outs[0].DetailedStatus)
	require.Equal(t, 0, outs[0].Output[0].ExitCode)
	require.Equal(t, "over sealed http\ndone\n", outs[0].Output[0].Stdout)
	require.Equal(t, 1, srv.Host.Launches())
	require.Positive(t, srv.SealedRequests(), "the worker sealed its messages")
	require.Zero(t, srv.RefusedRequests(), "nothing went unencrypted")
	ok(t, "association", "delete", "win-sealed")
}

// startWindowsWorkerProcess runs `stead worker` in a child process with a
// WinRM credential (NTLM, the default) for the fake host, so a test can
// kill it with SIGKILL.
func startWindowsWorkerProcess(t *testing.T, passwordFile string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerProcessEnv+"="+strings.Join([]string{
		"--address", frontend, "--winrm-credential", winCredential + "=" + passwordFile, "--log-level", "warn",
		"--output-dir", t.TempDir(), "--events-dir", t.TempDir(),
	}, "\x1f"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	return cmd
}

func TestWindowsWorkerKilledMidStepRunsItOnce(t *testing.T) {
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	pw := testwinrm.PasswordFile(t, testwinrm.Password)
	first := startWindowsWorkerProcess(t, pw)
	const n = 3
	for i := range n {
		registerWindows(t, fmt.Sprintf("win-crash-%d", i), srv, "--tag", "fleet=win-crash")
	}
	out := ok(t, "association", "create", "--name", "win-crash", "--document", "AWS-RunPowerShellScript",
		"--targets", "Key=tag:fleet,Values=win-crash", "--max-concurrency", "100%",
		"--parameters", `{"commands":["Write-Output started","Start-Sleep -Seconds 5","Write-Output finished"]}`)
	id := execID(t, out)
	require.Eventually(t, func() bool { return srv.Host.Launches() == n }, time.Minute, 50*time.Millisecond)

	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_, _ = first.Process.Wait()
	startWindowsWorkerProcess(t, pw)

	require.Equal(t, contract.StatusSuccess, awaitExecution(t, "win-crash", id, 3*time.Minute))
	outs := targetsJSON(t, "win-crash", id)
	require.Len(t, outs, n)
	for _, o := range outs {
		require.Equal(t, contract.StatusSuccess, o.Status, o.DetailedStatus)
		require.Equal(t, "started\nfinished\n", o.Output[0].Stdout)
		require.True(t, o.Output[0].Resumed, "%s: the new worker attached to the run the killed one started", o.NodeID)
	}
	require.Equal(t, n, srv.Host.Launches(), "0 lost, 0 duplicated")
	ok(t, "association", "delete", "win-crash")
}

// TestWindowsNodeRunsPowerShellOverKerberos: a worker process given a
// kerberos credential by its flag (a keytab, a real MIT KDC) reaches a
// node of the realm by its DNS name over HTTPS and runs a PowerShell step;
// the node names the credential, and what reaches Temporal holds no key.
func TestWindowsNodeRunsPowerShellOverKerberos(t *testing.T) {
	kdc := testkdc.Start(t)
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	srv.JoinRealm(t, kdc)
	cred := testwinrm.KerberosCredential(t, kdc, testwinrm.User, "", kdc.Keytab(t, testwinrm.User))
	startWindowsWorkerProcess(t, "kerberos:"+cred)

	t.Cleanup(func() { stead(t, "node", "deregister", "win-krb") })
	ok(t, "node", "register", "--id", "win-krb", "--platform", "windows", "--transport", "winrm",
		"--address", testwinrm.KerberosHost, "--port", fmt.Sprint(srv.Port), "--user", testwinrm.User,
		"--credential", winCredential, "--host-key", srv.Fingerprint())
	desc := ok(t, "node", "describe", "win-krb")
	require.Contains(t, desc, winCredential)
	require.NotContains(t, desc, cred, "the node names the credential, not the worker's file")

	out := ok(t, "association", "create", "--name", "win-krb", "--document", "AWS-RunPowerShellScript",
		"--targets", "Key=InstanceIds,Values=win-krb", "--parameters", `{"commands":["Write-Output \"hello from the domain\"","Write-Error 'a warning'"]}`, "--wait")
	outs := targetsJSON(t, "win-krb", execID(t, out))
	require.Len(t, outs, 1)
	require.Equal(t, contract.StatusSuccess, outs[0].Status, outs[0].DetailedStatus)
	require.Equal(t, "hello from the domain\n", outs[0].Output[0].Stdout)
	require.Equal(t, "a warning\n", outs[0].Output[0].Stderr)
	require.Equal(t, 1, srv.Host.Launches())
	require.Positive(t, srv.KerberosLogins(), "the worker logged in with a ticket")
	require.Zero(t, srv.NTLMLogins())
	ok(t, "association", "delete", "win-krb")
}
