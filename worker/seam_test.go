package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/cli"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/codec"
	"github.com/stead-io/stead/internal/devserver"
	"github.com/stead-io/stead/internal/outputstore"
	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/worker"
)

// seamDocument runs every kind of node-facing work: a file written for a
// step, a document read back from the node, a step whose connection drops,
// a step with more output than history keeps, a reboot, a failing step.
var seamDocument = `schemaVersion: "2.2"
description: every node-facing activity, for the seam test
parameters:
  greeting: {type: String, default: "hello; $(not code)"}
mainSteps:
  - action: aws:downloadContent
    name: fetch
    inputs:
      sourceType: Worker
      sourceInfo: {path: inner.yaml}
      destinationPath: C:/stead/inner.yaml
  - action: aws:runDocument
    name: run
    inputs:
      documentType: LocalPath
      documentPath: C:/stead/inner.yaml
  - action: aws:runPowerShellScript
    name: greet
    inputs:
      runCommand:
        - "` + fakeDropLine + `"
        - Write-Output {{ greeting }}
  - action: aws:runPowerShellScript
    name: big
    inputs:
      runCommand: [` + strings.TrimSuffix(strings.Repeat(`"Write-Output `+bigLine+`", `, bigLines), ", ") + `]
  - action: aws:runPowerShellScript
    name: restart
    inputs:
      runCommand: [exit 3010]
  - action: aws:runPowerShellScript
    name: fail
    inputs:
      runCommand: [Write-Output failing, exit 7]
  - action: aws:runPowerShellScript
    name: never
    inputs:
      runCommand: [Write-Output unreachable]
`

// bigLines lines of bigLine are more stdout than a step result keeps.
const bigLines = 250

var bigLine = strings.Repeat("0123456789", 10)

// innerDocument is the document the fetch step writes and the run step
// reads back from the node.
const innerDocument = `schemaVersion: "2.2"
description: read from the node
mainSteps:
  - action: aws:runPowerShellScript
    name: inner
    inputs:
      runCommand: [Write-Output inner ran]
`

// TestSeamCarriesAFullExecution plugs a fake communicator and a fake runner
// into a real Temporal server and a real worker, and runs an association
// to its end on a node whose transport and platform select them: nothing
// above the seam knows they are not SSH and sh. A second node, of a
// platform the worker has no runner for, fails at once, without a dial.
func TestSeamCarriesAFullExecution(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	srv, err := devserver.Start(ctx, devserver.Config{DataDir: dir, UIPort: -1, SearchAttributes: contract.SearchAttributes()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendAddress())
	keyFile := filepath.Join(dir, "codec.key")
	keys, err := codec.CreateKeyFile(keyFile, time.Now())
	require.NoError(t, err)
	t.Setenv(cli.EnvCodecKeyFile, keyFile)
	dc := codec.NewDataConverter(keys)
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), DataConverter: dc, FailureConverter: codec.NewFailureConverter(keys, dc), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	require.NoError(t, err)
	defer c.Close()

	host := newFakeHost()
	// The node model knows the transports ssh and local: the worker decides
	// what reaches a node named "ssh", here a Windows host over the fake.
	pool := transport.NewPool(transport.NewRegistry(map[string]transport.Protocol{transport.KindSSH: fakeProtocol{host}}), time.Minute)
	defer pool.Close()
	files, output := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(files, "inner.yaml"), []byte(innerDocument), 0o644))
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Options{Client: c, Activities: &activities.Activities{
			Client: c, Namespace: "default", DataConverter: dc, HeartbeatEvery: time.Second,
			Nodes:   pool,
			Runners: runner.NewRegistry(map[string]runner.Runner{"windows": fakeRunner{}}),
			Files:   files, OutputDir: output,
		}})
	}()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	ok(t, "node", "register", "--id", "win-1", "--address", "192.0.2.10", "--user", "admin", "--platform", "windows", "--tag", "fleet=seam")
	ok(t, "node", "register", "--id", "lin-1", "--address", "192.0.2.11", "--user", "admin", "--tag", "fleet=seam")
	docFile := filepath.Join(dir, "seam.yaml")
	require.NoError(t, os.WriteFile(docFile, []byte(seamDocument), 0o644))
	ok(t, "document", "create", "--name", "seam-doc", "--file", docFile)
	out, errs := steadCLI(t, false, "association", "create", "--name", "seam", "--document", "seam-doc",
		"--targets", "Key=tag:fleet,Values=seam", "--max-errors", "2", "--wait")
	m := regexp.MustCompile(`execution ([0-9a-f-]{36})`).FindStringSubmatch(out + errs)
	require.NotNil(t, m, out+errs)
	execID := m[1]

	var execs []struct {
		ExecutionID string `json:"executionId"`
		Status      string `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(ok(t, "association", "executions", "seam", "--output", "json")), &execs))
	require.Len(t, execs, 1)
	require.Equal(t, execID, execs[0].ExecutionID)
	require.Equal(t, contract.StatusFailed, execs[0].Status)

	var targets []struct {
		NodeID         string `json:"nodeId"`
		Status         string `json:"status"`
		DetailedStatus string `json:"detailedStatus"`
		Steps          []struct {
			Name           string `json:"name"`
			Status         string `json:"status"`
			DetailedStatus string `json:"detailedStatus"`
			ExitCode       int    `json:"exitCode"`
		} `json:"steps"`
		Output []contract.StepSummary `json:"output"`
	}
	require.NoError(t, json.Unmarshal([]byte(ok(t, "association", "targets", "seam", "--execution", execID, "--output", "json")), &targets))
	require.Len(t, targets, 2)
	byNode := map[string]int{targets[0].NodeID: 0, targets[1].NodeID: 1}

	// The Windows node ran everything through the fakes, up to the step
	// that failed.
	win := targets[byNode["win-1"]]
	require.Equal(t, contract.StatusFailed, win.Status, win.DetailedStatus)
	var statuses []string
	for _, s := range win.Steps {
		statuses = append(statuses, fmt.Sprintf("%s=%s/%d", s.Name, s.Status, s.ExitCode))
	}
	require.Equal(t, "fetch=Success/0 run.inner=Success/0 greet=Success/0 big=Success/0 restart=Success/3010 fail=Failed/7 never=Skipped/0", strings.Join(statuses, " "))
	require.Equal(t, "rebooted (exit code 3010): boot id boot-1, then boot-2", win.Steps[4].DetailedStatus)
	outputs := map[string]contract.StepSummary{}
	for _, o := range win.Output {
		outputs[o.Name] = o
	}
	require.Contains(t, outputs["fetch"].Stdout, "to C:/stead/inner.yaml")
	require.Equal(t, "inner ran\n", outputs["run.inner"].Stdout)
	require.Equal(t, "hello; $(not code)\n", outputs["greet"].Stdout, "the parameter reached the script as data")
	require.True(t, outputs["greet"].Resumed, "the retry after the dropped connection collected the run")
	require.True(t, outputs["big"].StdoutTruncated)
	require.Len(t, outputs["big"].Stdout, activities.StdoutLimit)
	require.Equal(t, "failing\n", outputs["fail"].Stdout)

	// The node with no runner failed its first step, saying why.
	lin := targets[byNode["lin-1"]]
	require.Equal(t, contract.StatusFailed, lin.Status)
	require.Equal(t, "fetch", lin.Steps[0].Name)
	require.Equal(t, contract.StatusFailed, lin.Steps[0].Status)
	require.True(t, strings.HasPrefix(lin.Steps[0].DetailedStatus, "node lin-1: no runner for platform linux on this worker (it has: windows)"), lin.Steps[0].DetailedStatus)

	// What the fakes saw.
	host.mu.Lock()
	defer host.mu.Unlock()
	for _, d := range host.dials {
		require.Equal(t, transport.Target{NodeID: "win-1", Address: "192.0.2.10", Port: 22, User: "admin", Kind: transport.KindSSH}, d,
			"only win-1 was dialled, with its node's spec")
	}
	// One dial before the dropped connection, one after it; after the
	// reboot, one refused while the host boots and one to the new boot:
	// every other step reused a pooled connection.
	require.Len(t, host.dials, 4)
	require.Equal(t, []string{"C:/stead/inner.yaml"}, host.uploads)
	require.Equal(t, innerDocument, string(host.files["C:/stead/inner.yaml"]))

	// One run per script step, each started once, with ids naming the
	// execution, the node and the step.
	require.Len(t, host.started, 5)
	seen := map[string]bool{}
	for _, id := range host.started {
		require.True(t, strings.HasPrefix(id, execID+"-win-1-"), id)
		require.False(t, seen[id], "run %s started twice", id)
		seen[id] = true
	}
	greetRun, bigRun, restartRun := host.started[1], host.started[2], host.started[3]
	require.Equal(t, []string{"SSM_greeting=hello; $(not code)"}, host.envs[greetRun])
	require.Equal(t, 6, countOf(host.commands, fakeRunCommand), "five runs, and the retry that collected greet's")
	require.Equal(t, []string{"C:/stead/inner.yaml", "runs/" + bigRun + "/stdout"}, host.reads,
		"the document was read from the node; the full output of big was fetched for the output store")
	require.Equal(t, map[string]int{restartRun: 1}, host.rebooted)
	require.Equal(t, 2, host.boot)

	path, err := outputstore.Store{Dir: output}.Path(outputstore.Key{Association: "seam", Execution: execID, Node: "win-1", Step: "big"}, outputstore.StdoutExt)
	require.NoError(t, err)
	stored, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, strings.Repeat(bigLine+"\n", bigLines), string(stored))
}

// countOf counts the commands that start with prefix.
func countOf(commands []string, prefix string) int {
	n := 0
	for _, c := range commands {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// steadCLI runs the CLI in-process, as an operator would, requiring it to
// succeed or to fail, and returns what it printed on stdout and stderr.
func steadCLI(t *testing.T, succeed bool, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(t.Context(), append([]string{"stead"}, args...), &out, &errb)
	require.Equal(t, succeed, code == 0, "stead %v exited %d\nstdout: %s\nstderr: %s", args, code, out.String(), errb.String())
	return out.String(), errb.String()
}

// ok runs the CLI, requires success and returns its stdout.
func ok(t *testing.T, args ...string) string {
	out, _ := steadCLI(t, true, args...)
	return out
}

// TestDefaultRunners: linux nodes run through POSIX sh, windows nodes
// through PowerShell; another platform has no runner, and says so.
func TestDefaultRunners(t *testing.T) {
	r, err := worker.DefaultRunners().For("linux")
	require.NoError(t, err)
	require.Equal(t, "sh", r.Shell())
	r, err = worker.DefaultRunners().For("windows")
	require.NoError(t, err)
	require.Equal(t, "powershell", r.Shell())
	_, err = worker.DefaultRunners().For("plan9")
	require.ErrorIs(t, err, runner.ErrNoRunner)
	require.EqualError(t, err, "no runner for platform plan9 on this worker (it has: linux, windows)")
}
