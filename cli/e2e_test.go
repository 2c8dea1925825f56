package cli_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/cli"
	steadclient "github.com/stead-io/stead/client"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/codec"
	"github.com/stead-io/stead/internal/devserver"
	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/testwinrm"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/worker"
	"github.com/stead-io/stead/workflows"
)

// One real Temporal server serves every test in this package: the embedded
// dev server (SQLite file), or with STEAD_E2E_STACK=prod a temporal-server
// on PostgreSQL (stack_e2e_test.go); each test starts its own real sshd
// and worker.
var (
	frontend string
	server   *devserver.Server
	dataDir  string
)

func TestMain(m *testing.M) {
	// The Windows-over-OpenSSH tests' sshd starts this binary as the
	// emulated host's powershell.exe and sftp server.
	if code, ok := testwinrm.StandIn(); ok {
		os.Exit(code)
	}
	if os.Getenv(workerProcessEnv) != "" {
		os.Exit(runWorkerProcess())
	}
	dir, err := os.MkdirTemp("", "stead-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	skip, err := startTemporal(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	if skip != "" {
		fmt.Fprintln(os.Stderr, skip)
		os.RemoveAll(dir)
		os.Exit(0)
	}
	os.Setenv("TEMPORAL_ADDRESS", frontend)
	// Every test runs with payload encryption on, as `stead dev` does: the
	// CLI (and worker processes) find the key through the environment.
	keyFile := filepath.Join(dir, "codec.key")
	if codecKeys, err = codec.CreateKeyFile(keyFile, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv(cli.EnvCodecKeyFile, keyFile)
	code := m.Run()
	stopTemporal()
	os.RemoveAll(dir)
	os.Exit(code)
}

// harness is a real sshd posing as many loopback hosts, and a worker that
// reaches them.
type harness struct {
	t    *testing.T
	sshd *testsshd.Server
	tag  string
	// outputDir is the worker's output store.
	outputDir string
}

// codecKeys encrypt every payload the tests' CLI, clients and workers write.
var codecKeys *codec.Keyring

// dialTest connects to the test server with the same converters the CLI
// and workers use, so it reads what they write.
func dialTest(t *testing.T) client.Client {
	t.Helper()
	dc := codec.NewDataConverter(codecKeys)
	c, err := client.Dial(client.Options{HostPort: frontend, Logger: quiet{}, DataConverter: dc, FailureConverter: codec.NewFailureConverter(codecKeys, dc)})
	require.NoError(t, err)
	return c
}

func setup(t *testing.T) *harness {
	sshd := testsshd.Start(t)
	h := &harness{t: t, sshd: sshd, tag: strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(t.Name(), "-")), outputDir: t.TempDir()}
	c := dialTest(t)
	dialer, err := transport.NewSSHDialer(transport.SSHConfig{Credentials: map[string]string{"default": sshd.KeyFile}})
	require.NoError(t, err)
	pool := transport.NewPool(transport.NewDialer(dialer), time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Options{
			Client: c,
			Activities: &activities.Activities{
				Client: c, Namespace: "default", DataConverter: codec.NewDataConverter(codecKeys),
				Nodes: pool, HeartbeatEvery: time.Second, OutputDir: h.outputDir,
			},
		})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		pool.Close()
		c.Close()
	})
	return h
}

type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}

// stead runs the CLI in-process.
func stead(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := cli.Run(ctx, append([]string{"stead"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// ok runs the CLI and requires success.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := stead(t, args...)
	require.Equal(t, 0, code, "stead %v\nstdout: %s\nstderr: %s", args, out, errs)
	return out
}

// fails runs the CLI, requires exit 1 with a one-line error containing want.
func fails(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errs, code := stead(t, args...)
	require.Equal(t, 1, code, "stead %v should fail\nstdout: %s\nstderr: %s", args, out, errs)
	require.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
	require.True(t, strings.HasPrefix(errs, "stead: "), errs)
	require.Contains(t, errs, want)
}

// register registers a node at 127.0.0.<host> on the test sshd.
func (h *harness) register(id string, host int, extra ...string) {
	h.t.Helper()
	args := []string{"node", "register", "--id", id, "--address", fmt.Sprintf("127.0.0.%d", host),
		"--port", fmt.Sprint(h.sshd.Port), "--user", h.sshd.User, "--host-key", h.sshd.HostKey, "--tag", "role=" + h.tag}
	ok(h.t, append(args, extra...)...)
}

var execIDPattern = regexp.MustCompile(`execution ([0-9a-f-]{36})`)

func execID(t *testing.T, out string) string {
	m := execIDPattern.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	return m[1]
}

func targetsJSON(t *testing.T, name, id string) []cli.TargetOutput {
	var outs []cli.TargetOutput
	require.NoError(t, json.Unmarshal([]byte(ok(t, "association", "targets", name, "--execution", id, "--output", "json")), &outs))
	return outs
}

func TestNodeLifecycle(t *testing.T) {
	h := setup(t)
	h.register("life-1", 2)
	h.register("life-2", 3, "--region", "eu-west", "--tag", "env=prod")

	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(ok(t, "node", "list", "--output", "json")), &list))
	ids := map[string]map[string]any{}
	for _, n := range list {
		ids[n["id"].(string)] = n
	}
	require.Contains(t, ids, "life-1")
	require.Equal(t, "eu-west", ids["life-2"]["region"])

	// A change is a new revision, recorded with who made it.
	ok(t, "node", "register", "--id", "life-1", "--address", "127.0.0.2", "--port", fmt.Sprint(h.sshd.Port), "--user", h.sshd.User, "--tag", "role=changed")
	var st workflows.NodeState
	require.NoError(t, json.Unmarshal([]byte(ok(t, "node", "describe", "life-1", "--output", "json")), &st))
	require.Equal(t, 2, st.Revision)
	require.Equal(t, map[string]string{"role": "changed"}, st.Node.Tags)
	require.Len(t, st.Changes, 2)
	require.Equal(t, "update", st.Changes[1].Action)
	require.Contains(t, st.Changes[1].By, "@")
	require.Contains(t, ok(t, "node", "describe", "life-1"), "update")

	ok(t, "node", "deregister", "life-1")
	require.NotContains(t, ok(t, "node", "list"), "life-1")
	fails(t, "node life-1 is not registered", "node", "describe", "life-1")
	fails(t, "node nope is not registered", "node", "deregister", "nope")

	fails(t, "port 0: want 1-65535", "node", "register", "--id", "bad", "--address", "x", "--port", "0")
	fails(t, `tag "novalue": want key=value`, "node", "register", "--id", "bad", "--address", "x", "--tag", "novalue")
	fails(t, "address: required", "node", "register", "--id", "bad")
	fails(t, `node id "-x"`, "node", "register", "--id", "-x", "--address", "h")

	// Import is all or nothing.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("- id: imp-1\n  address: 127.0.0.5\n- id: imp-2\n  port: 99999\n  address: x\n"), 0o600))
	fails(t, "node 2 (imp-2): port 99999", "node", "import", bad)
	require.NotContains(t, ok(t, "node", "list"), "imp-1")
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte(fmt.Sprintf("- id: imp-1\n  address: 127.0.0.5\n  port: %d\n  user: %s\n  tags: {role: imported}\n- id: imp-2\n  address: 127.0.0.6\n  port: %d\n  user: %[2]s\n", h.sshd.Port, h.sshd.User, h.sshd.Port)), 0o600))
	require.Contains(t, ok(t, "node", "import", good), "2 nodes registered")
	require.Contains(t, ok(t, "node", "list"), "role=imported")
}

func TestAssociationRunsOverSSH(t *testing.T) {
	h := setup(t)
	for i := 2; i <= 4; i++ {
		h.register(fmt.Sprintf("web-%d", i), i)
	}
	out := ok(t, "association", "create", "--name", "ssh-baseline", "--document", "AWS-RunShellScript",
		"--targets", "Key=tag:role,Values=other,"+h.tag,
		"--parameters", `{"commands":["echo hello from stead","echo \"$SSH_CONNECTION\" | cut -d' ' -f3","echo warn >&2"]}`,
		"--max-concurrency", "2", "--wait")
	require.Contains(t, out, "3 of 3 targets succeeded")
	id := execID(t, out)

	outs := targetsJSON(t, "ssh-baseline", id)
	require.Len(t, outs, 3)
	for i, o := range outs {
		require.Equal(t, fmt.Sprintf("web-%d", i+2), o.NodeID)
		require.Equal(t, contract.StatusSuccess, o.Status)
		require.Len(t, o.Output, 1)
		// The step ran on the host it was sent to.
		require.Equal(t, fmt.Sprintf("hello from stead\n127.0.0.%d\n", i+2), o.Output[0].Stdout)
		require.Equal(t, "warn\n", o.Output[0].Stderr)
		require.False(t, o.EndedAt.Before(o.StartedAt))
	}
	table := ok(t, "association", "targets", "ssh-baseline", "--execution", id)
	require.Contains(t, table, "--- web-3 / runShellScript (exit 0)")

	// Run now, then look at both executions.
	out = ok(t, "association", "start", "ssh-baseline", "--wait")
	second := execID(t, out)
	require.Contains(t, ok(t, "association", "targets", "ssh-baseline"), "execution "+second+": Success")
	execs := ok(t, "association", "executions", "ssh-baseline")
	require.Contains(t, execs, id)
	require.Contains(t, execs, second)
	require.Contains(t, execs, "Manual")
	require.Contains(t, execs, "Create")
	require.Contains(t, ok(t, "association", "list"), "ssh-baseline")
	desc := ok(t, "association", "describe", "ssh-baseline")
	require.Contains(t, desc, "Stead-RunShellScript")
	require.Contains(t, desc, "Key=tag:role,Values=other,"+h.tag)

	fails(t, "association ssh-baseline already exists", "association", "create", "--name", "ssh-baseline",
		"--document", "Stead-RunShellScript", "--targets", "Key=InstanceIds,Values=web-2", "--parameters", `{"commands":["true"]}`)
	ok(t, "association", "delete", "ssh-baseline")
	require.NotContains(t, ok(t, "association", "list"), "ssh-baseline")
	fails(t, "association ssh-baseline not found", "association", "describe", "ssh-baseline")
}

func TestHostKeyMismatchIsUndeliverable(t *testing.T) {
	h := setup(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	wrong := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	h.register("mitm-1", 7, "--host-key", wrong)

	out, errs, code := stead(t, "association", "create", "--name", "mitm", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=mitm-1", "--parameters", "commands=touch /tmp/should-not-run", "--wait")
	require.Equal(t, 1, code, out+errs)
	require.Contains(t, errs, "Failed")
	outs := targetsJSON(t, "mitm", execID(t, out))
	require.Equal(t, contract.StatusUndeliverable, outs[0].Status)
	require.Contains(t, outs[0].DetailedStatus, "HostKeyMismatch")
	// Said once, with what to do about it, and nothing of Temporal's.
	all := out + errs + outs[0].DetailedStatus
	for _, line := range strings.Split(all, "\n") {
		require.LessOrEqual(t, strings.Count(line, "host presented"), 1, line)
	}
	require.Contains(t, outs[0].DetailedStatus, "pin it with: stead node trust mitm-1 --replace")
	require.NotContains(t, all, "retryable")
	require.NotContains(t, all, "(type:")
	ok(t, "association", "delete", "mitm")
}

func TestMaxErrorsStopsDispatch(t *testing.T) {
	h := setup(t)
	for i := 2; i <= 5; i++ {
		h.register(fmt.Sprintf("me-%d", i), 10+i)
	}
	// me-3 (127.0.0.13) fails; with MaxErrors 0 and one at a time, me-4 and me-5 never run.
	out, errs, code := stead(t, "association", "create", "--name", "max-errors", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:role,Values="+h.tag,
		"--parameters", `{"commands":["case \"$SSH_CONNECTION\" in *' 127.0.0.13 '*) exit 3;; esac"]}`,
		"--max-concurrency", "1", "--max-errors", "0", "--wait")
	require.Equal(t, 1, code, out+errs)
	require.Contains(t, errs, "stopped after 1 errors (MaxErrors 0)")
	got := map[string]string{}
	for _, o := range targetsJSON(t, "max-errors", execID(t, out)) {
		got[o.NodeID] = o.Status + fmt.Sprint(o.ExitCode)
	}
	require.Equal(t, map[string]string{"me-2": "Success0", "me-3": "Failed3", "me-4": "Skipped-1", "me-5": "Skipped-1"}, got)
	// Temporal (and its Web UI) shows the execution failed, naming the node.
	d := describeExecution(t, "max-errors", execID(t, out))
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, d.GetWorkflowExecutionInfo().GetStatus())
	c := dialTest(t)
	defer c.Close()
	var app *temporal.ApplicationError
	require.ErrorAs(t, c.GetWorkflow(context.Background(), contract.ExecutionWorkflowID("max-errors", execID(t, out)), "").Get(context.Background(), nil), &app)
	require.Regexp(t, `^stopped after 1 errors \(MaxErrors 0\): 1 succeeded, 2 skipped: me-3 Failed \(step \S+: exit code 3\)$`, app.Message())
	ok(t, "association", "delete", "max-errors")
}

func TestDeleteCancelsRunningCommand(t *testing.T) {
	h := setup(t)
	h.register("long-1", 20)
	// The step runs as the sshd's test user: give it a directory it can write.
	dir, err := os.MkdirTemp("", "stead-long-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	pidFile := filepath.Join(dir, "pid")
	out := ok(t, "association", "create", "--name", "long-runner", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=long-1",
		"--parameters", fmt.Sprintf(`{"commands":["echo $$ > %s","sleep 300"]}`, pidFile))
	id := execID(t, out)
	var pid int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		_, err = fmt.Sscan(string(b), &pid)
		return err == nil
	}, 30*time.Second, 100*time.Millisecond)
	require.NoError(t, processAlive(pid))

	start := time.Now()
	ok(t, "association", "delete", "long-runner")
	require.Less(t, time.Since(start), 60*time.Second)
	require.Eventually(t, func() bool { return processAlive(pid) != nil }, 20*time.Second, 100*time.Millisecond, "remote command still running")
	outs := targetsJSON(t, "long-runner", id)
	require.Equal(t, contract.StatusCancelled, outs[0].Status)
	d := describeExecution(t, "long-runner", id)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, d.GetWorkflowExecutionInfo().GetStatus())
}

// describeExecution describes an execution's workflow as Temporal (and its
// Web UI) shows it.
func describeExecution(t *testing.T, association, id string) *workflowservice.DescribeWorkflowExecutionResponse {
	t.Helper()
	c := dialTest(t)
	defer c.Close()
	d, err := c.DescribeWorkflowExecution(context.Background(), contract.ExecutionWorkflowID(association, id), "")
	require.NoError(t, err)
	return d
}

func processAlive(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return err
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if strings.Contains(string(b), ") Z ") {
		return fmt.Errorf("zombie")
	}
	_ = p
	return nil
}

func TestLocalTransport(t *testing.T) {
	setup(t)
	ok(t, "node", "register", "--id", "this-host", "--transport", "local", "--tag", "role=local-test")
	out := ok(t, "association", "create", "--name", "local-run", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:role,Values=local-test", "--parameters", "commands=echo local:$(id -u)", "--wait")
	outs := targetsJSON(t, "local-run", execID(t, out))
	require.Equal(t, fmt.Sprintf("local:%d\n", os.Getuid()), outs[0].Output[0].Stdout)
	ok(t, "association", "delete", "local-run")
}

func TestBadInputIsOneLineAndStartsNothing(t *testing.T) {
	h := setup(t)
	h.register("bi-1", 30)
	base := []string{"association", "create", "--document", "Stead-RunShellScript", "--targets", "Key=InstanceIds,Values=bi-1"}
	cases := []struct {
		name string
		want string
		args []string
	}{
		{"unknown document", "document Nope not found", []string{"association", "create", "--name", "bad-1", "--document", "Nope", "--targets", "Key=InstanceIds,Values=bi-1", "--parameters", "commands=true"}},
		{"malformed targets", `targets "Key=role,Values=web"`, []string{"association", "create", "--name", "bad-2", "--document", "Stead-RunShellScript", "--targets", "Key=role,Values=web", "--parameters", "commands=true"}},
		{"malformed json parameters", "parameters", append(base, "--name", "bad-3", "--parameters", `{"commands":`)},
		{"missing required parameter", "commands", append(base, "--name", "bad-4")},
		{"unknown parameter", "nosuch", append(base, "--name", "bad-5", "--parameters", `{"commands":["true"],"nosuch":"x"}`)},
		{"unknown node", "targets name unregistered nodes: ghost-1", []string{"association", "create", "--name", "bad-6", "--document", "Stead-RunShellScript", "--targets", "Key=InstanceIds,Values=bi-1,ghost-1", "--parameters", "commands=true"}},
		{"bad schedule", "schedule", append(base, "--name", "bad-7", "--parameters", "commands=true", "--schedule", "every day")},
		{"bad concurrency", "max-concurrency", append(base, "--name", "bad-8", "--parameters", "commands=true", "--max-concurrency", "0")},
		{"bad name", "association name", append(base, "--name", "x", "--parameters", "commands=true")},
		{"unreachable server", "connect to Temporal at 127.0.0.1:1", append(base, "--name", "bad-9", "--parameters", "commands=true", "--address", "127.0.0.1:1")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { fails(t, c.want, c.args...) })
	}
	list := ok(t, "association", "list")
	require.NotContains(t, list, "bad-")
}

func TestNodeHistory(t *testing.T) {
	h := setup(t)
	h.register("hist-1", 40)
	h.register("hist-2", 41)
	out, errs, code := stead(t, "association", "create", "--name", "hist-a", "--document", "AWS-RunShellScript",
		"--targets", "Key=InstanceIds,Values=hist-1", "--parameters", `{"commands":["exit 3"]}`, "--wait")
	require.Equal(t, 1, code, out+errs)
	first := execID(t, out)
	second := execID(t, ok(t, "association", "create", "--name", "hist-b", "--document", "AWS-RunShellScript",
		"--targets", "Key=tag:role,Values="+h.tag, "--parameters", `{"commands":["true"]}`, "--wait"))
	execID(t, ok(t, "association", "create", "--name", "hist-c", "--document", "AWS-RunShellScript",
		"--targets", "Key=InstanceIds,Values=hist-2", "--parameters", `{"commands":["true"]}`, "--wait"))

	history := func(args ...string) []steadclient.NodeRun {
		var runs []steadclient.NodeRun
		require.NoError(t, json.Unmarshal([]byte(ok(t, append([]string{"node", "history", "hist-1", "--output", "json"}, args...)...)), &runs))
		return runs
	}
	summary := func(runs []steadclient.NodeRun) []string {
		var out []string
		for _, r := range runs {
			out = append(out, r.Association+" "+r.ExecutionID+" "+r.Reason+" "+r.Status+" "+fmt.Sprint(r.ExitCode))
		}
		return out
	}
	want := []string{"hist-b " + second + " Create Success 0", "hist-a " + first + " Create Failed 3"}
	require.Equal(t, want, summary(history()), "newest first; hist-c never reached the node")
	require.Equal(t, want[:1], summary(history("--limit", "1")))
	require.Contains(t, ok(t, "node", "history", "hist-1"), "exit code 3")

	// A node no longer registered keeps its history.
	ok(t, "node", "deregister", "hist-1")
	require.Equal(t, want, summary(history()))
	for _, a := range []string{"hist-a", "hist-b", "hist-c"} {
		ok(t, "association", "delete", a)
	}
}
