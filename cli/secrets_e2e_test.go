package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/proto"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/codec"
	"github.com/stead-io/stead/internal/secrets"
	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/worker"
)

// setupWithSecrets is setup with a worker that holds secrets and logs, at debug level,
// into the returned buffer.
func setupWithSecrets(t *testing.T, store *secrets.Store) (*harness, *syncBuffer) {
	sshd := testsshd.Start(t)
	h := &harness{t: t, sshd: sshd, tag: strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())), outputDir: t.TempDir()}
	logs := &syncBuffer{}
	logger := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	dc := codec.NewDataConverter(codecKeys)
	c, err := client.Dial(client.Options{HostPort: frontend, Logger: logger, DataConverter: dc, FailureConverter: codec.NewFailureConverter(codecKeys, dc)})
	require.NoError(t, err)
	dialer, err := transport.NewSSHDialer(transport.SSHConfig{Credentials: map[string]string{"default": sshd.KeyFile}})
	require.NoError(t, err)
	pool := transport.NewPool(transport.NewDialer(dialer), time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Options{
			Client: c,
			Activities: &activities.Activities{
				Client: c, Namespace: "default", DataConverter: dc,
				Nodes: pool, HeartbeatEvery: time.Second, Secrets: store, OutputDir: h.outputDir,
			},
		})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		pool.Close()
		c.Close()
	})
	return h, logs
}

// decodedHistory is a workflow's history with every payload decrypted, as protojson.
func decodedHistory(t *testing.T, c client.Client, id string) string {
	t.Helper()
	var events []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		events = append(events, ev)
	}
	hist := &historypb.History{Events: events}
	require.NoError(t, proxy.VisitPayloads(context.Background(), hist, proxy.VisitPayloadsOptions{
		Visitor: func(_ *proxy.VisitPayloadsContext, p []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return codec.New(codecKeys).Decode(p)
		},
	}))
	b, err := proto.Marshal(hist)
	require.NoError(t, err)
	return string(b)
}

const (
	// secretCanary is the value of a {{ssm-secure:...}} secret: it must never leave the
	// worker and the node, whatever the step prints.
	secretCanary = "sekrit-4b7e1d-canary"
	// tokenCanary is given to a parameter the document declares secret: it is stored
	// (encrypted) with the association, but never shown in a step's captured output.
	tokenCanary = "tok-8c2f-canary"
)

const secretDocument = `{
  "schemaVersion": "2.2",
  "description": "prints its secrets, as a careless script would",
  "parameters": {
    "password": {"type": "String"},
    "token": {"type": "String", "secret": true}
  },
  "mainSteps": [{"action": "aws:runShellScript", "name": "leak",
    "inputs": {"runCommand": [
      "echo \"pw={{ password }}\"",
      "echo \"tok={{ token }}\"",
      "printenv | grep '^SSM_' | sort",
      "echo {{ password }} >&2",
      "echo \"twice={{ password }}{{ password }}\"",
      "head -c 30000 /dev/zero | tr '\\0' x; echo; echo \"end={{ password }}\""
    ]}}]
}`

func TestSecretParametersNeverLeave(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(file, []byte("# test secrets\ndb_password="+secretCanary+"\n"), 0o600))
	store, err := secrets.Load(file, []string{secrets.EnvPrefix + "api_key=" + secretCanary + "-env"})
	require.NoError(t, err)
	h, logs := setupWithSecrets(t, store)
	h.register("sec-1", 60)
	ok(t, "document", "create", "--name", "leaky-secrets", "--file", writeDoc(t, "leaky.json", secretDocument))
	params := `{"password":"{{ssm-secure:db_password}}","token":"` + tokenCanary + `"}`

	// Render shows the reference and hides the declared secret; nothing resolves it.
	render := ok(t, "document", "render", "leaky-secrets", "--parameters", params)
	require.Contains(t, render, `env: SSM_password="{{ssm-secure:db_password}}"`)
	require.Contains(t, render, `env: SSM_token="***"`)
	require.NotContains(t, render, tokenCanary)
	require.NotContains(t, ok(t, "document", "render", "leaky-secrets", "--parameters", params, "--output", "json"), tokenCanary)

	out := ok(t, "association", "create", "--name", "secrets", "--document", "leaky-secrets",
		"--targets", "Key=InstanceIds,Values=sec-1", "--parameters", params, "--wait")
	id := execID(t, out)
	// describe and versions keep the declared secret back; a reference is no secret.
	for _, args := range [][]string{{"describe", "secrets"}, {"versions", "secrets"}} {
		shown := ok(t, append(append([]string{"association"}, args...), "--output", "json")...)
		require.NotContains(t, shown, tokenCanary, args)
		require.Contains(t, shown, `"token": "***"`, args)
		require.Contains(t, shown, "{{ssm-secure:db_password}}", args)
	}
	outs := targetsJSON(t, "secrets", id)
	require.Equal(t, contract.StatusSuccess, outs[0].Status, outs[0].DetailedStatus)
	stdout, stderr := outs[0].Output[0].Stdout, outs[0].Output[0].Stderr
	require.Contains(t, stdout, "pw=***\n")
	require.Contains(t, stdout, "tok=***\n")
	require.Contains(t, stdout, "SSM_password=***\n")
	require.Contains(t, stdout, "SSM_token=***\n")
	require.Equal(t, "***\n", stderr)
	require.Contains(t, stdout, "twice=******\n")
	require.True(t, outs[0].Output[0].StdoutTruncated, "the full output goes to the output store")
	require.NotContains(t, stdout+stderr, tokenCanary)

	// The env-var secret source works the same way.
	out = ok(t, "association", "create", "--name", "secrets-env", "--document", "leaky-secrets",
		"--targets", "Key=InstanceIds,Values=sec-1", "--parameters", `{"password":"{{ssm-secure:api_key}}","token":"t"}`, "--wait")
	envOuts := targetsJSON(t, "secrets-env", execID(t, out))
	require.Equal(t, contract.StatusSuccess, envOuts[0].Status)
	require.Contains(t, envOuts[0].Output[0].Stdout, "pw=***\n")

	// An unknown secret fails the step, naming the secret, before anything runs.
	out, _, code := stead(t, "association", "create", "--name", "secrets-missing", "--document", "leaky-secrets",
		"--targets", "Key=InstanceIds,Values=sec-1", "--parameters", `{"password":"{{ssm-secure:no_such_secret}}","token":"t"}`, "--wait")
	require.NotEqual(t, 0, code, out)
	missing := targetsJSON(t, "secrets-missing", execID(t, out))
	require.Equal(t, contract.StatusFailed, missing[0].Status)
	require.Contains(t, missing[0].DetailedStatus, "secret no_such_secret is not defined on this worker")
	require.NotContains(t, missing[0].DetailedStatus, "\n")

	// Everything Stead keeps or shows, searched for the canary.
	raw, err := client.Dial(client.Options{HostPort: frontend, Logger: quiet{}})
	require.NoError(t, err)
	defer raw.Close()
	keyed := dialTest(t)
	defer keyed.Close()
	var all strings.Builder
	for _, assoc := range []string{"secrets", "secrets-env", "secrets-missing"} {
		execs := ok(t, "association", "executions", assoc, "--output", "json")
		var list []struct {
			ExecutionID string `json:"executionId"`
		}
		require.NoError(t, json.Unmarshal([]byte(execs), &list), execs)
		require.NotEmpty(t, list)
		all.WriteString(execs)
		all.WriteString(ok(t, "association", "describe", assoc, "--output", "json"))
		for _, e := range list {
			all.WriteString(ok(t, "association", "targets", assoc, "--execution", e.ExecutionID, "--output", "json"))
			ex := contract.ExecutionWorkflowID(assoc, e.ExecutionID)
			for _, wf := range []string{contract.AssociationWorkflowID(assoc), ex} {
				all.WriteString(rawHistory(t, raw, wf))
				all.WriteString(decodedHistory(t, keyed, wf))
			}
		}
	}
	all.WriteString(rawHistory(t, raw, "node/sec-1") + decodedHistory(t, keyed, "node/sec-1"))
	for _, args := range [][]string{
		{"association", "list"}, {"node", "list"}, {"node", "describe", "sec-1"},
		{"document", "list"}, {"document", "describe", "leaky-secrets"}, {"document", "versions", "leaky-secrets"},
	} {
		all.WriteString(ok(t, append(args, "--output", "json")...))
	}
	// The output store holds the full output, redacted as it streamed from the node.
	stored := ok(t, "association", "output", "secrets", "--execution", id, "--node", "sec-1", "--output-dir", h.outputDir)
	require.Contains(t, stored, "end=***\n")
	all.WriteString(stored)
	require.NoError(t, filepath.WalkDir(h.outputDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all.Write(b)
		return err
	}))
	require.Contains(t, all.String(), "{{ssm-secure:db_password}}", "the reference itself travels")
	require.Contains(t, all.String(), "pw=***", "decoded output was searched")
	require.NotContains(t, all.String(), secretCanary)
	require.NotContains(t, all.String(), secretCanary[:10])

	// The worker's log: it logged the run, and never the value.
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "no_such_secret") }, 10*time.Second, 50*time.Millisecond)
	require.Contains(t, logs.String(), "step finished")
	require.NotContains(t, logs.String(), secretCanary)
	require.NotContains(t, logs.String(), tokenCanary)

	// On the node: the env file is gone once the step started; the scripts hold only
	// references. The step's full output stays in the run directory as the node's own data.
	home := "/home/" + testsshd.UserName + "/.stead/runs"
	seen := 0
	require.NoError(t, filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "SSM_password") && !strings.Contains(string(b), secretCanary) {
			return nil
		}
		seen++
		switch filepath.Base(p) {
		case "env":
			return fmt.Errorf("env file %s outlived its step", p)
		case "stdout", "stderr":
		default:
			if strings.Contains(string(b), secretCanary) {
				return fmt.Errorf("%s holds the secret", p)
			}
		}
		return nil
	}))
	require.NotZero(t, seen, "the run directories were searched")

	for _, a := range []string{"secrets", "secrets-env", "secrets-missing"} {
		ok(t, "association", "delete", a)
	}
}

// TestSudoOptIn runs `id -u` on two nodes of the same host: only the node registered
// with --sudo runs it as root, through sudo -n; a sudo that would prompt fails at once.
func TestSudoOptIn(t *testing.T) {
	h, _ := setupWithSecrets(t, nil)
	h.register("plain-1", 61)
	h.register("sudo-1", 62, "--sudo")
	require.Contains(t, ok(t, "node", "describe", "sudo-1", "--output", "json"), `"sudo": true`)
	params := `{"commands":["id -u","echo \"wd=$(pwd)\""]}`

	// No sudoers rule yet: sudo -n refuses instead of prompting; the plain node is fine.
	out, _, code := stead(t, "association", "create", "--name", "privilege", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=plain-1,sudo-1", "--parameters", params, "--wait")
	require.NotEqual(t, 0, code, out)
	outs := targetsJSON(t, "privilege", execID(t, out))
	require.Equal(t, contract.StatusSuccess, outs[0].Status)
	require.NotEqual(t, "0\n", strings.SplitAfter(outs[0].Output[0].Stdout, "\n")[0])
	require.Equal(t, contract.StatusFailed, outs[1].Status)
	require.Contains(t, outs[1].Output[0].Stderr, "sudo")

	rule := "/etc/sudoers.d/stead-test"
	require.NoError(t, os.WriteFile(rule, []byte(testsshd.UserName+" ALL=(ALL) NOPASSWD: ALL\n"), 0o440))
	t.Cleanup(func() { os.Remove(rule) })
	out = ok(t, "association", "start", "privilege", "--wait")
	outs = targetsJSON(t, "privilege", execID(t, out))
	for _, o := range outs {
		require.Equal(t, contract.StatusSuccess, o.Status, o.NodeID)
	}
	require.NotEqual(t, "0", strings.Split(outs[0].Output[0].Stdout, "\n")[0], "no opt-in: the login user")
	require.Equal(t, "0", strings.Split(outs[1].Output[0].Stdout, "\n")[0], "opt-in: root")
	ok(t, "association", "delete", "privilege")
}

// TestInjectionCorpus sends hostile parameter values through the CLI to a real host:
// oversize values and NUL are refused before anything starts; every other value
// arrives byte for byte and runs nothing.
func TestInjectionCorpus(t *testing.T) {
	h, _ := setupWithSecrets(t, nil)
	h.register("inj-1", 63)
	marker := "/tmp/stead-injection-marker"
	os.Remove(marker)
	t.Cleanup(func() { os.Remove(marker) })
	touch := "touch " + marker
	corpus := []string{
		"$(" + touch + ")", "`" + touch + "`", "; " + touch, "| " + touch, "&& " + touch, "|| " + touch,
		"\n" + touch + "\n", "'; " + touch + "; '", `"; ` + touch + `; "`, "${IFS}" + touch,
		"$((1+1))", "${PATH}", "*", "~", "-n", "--", "\\", "\\\n" + touch, "> " + marker, "< /etc/shadow",
		"{{ v1 }}", "%s%n%x", "\r\n" + touch, "\t\v\f", "ünïcödé ✓ 日本語 🙂", "\u202eevil\u202c\u2066rtl\u2069",
		"\u200b\ufeff", "a" + strings.Repeat("€", 1000), "EOF\n" + touch + "\nEOF",
	}
	params := map[string]any{}
	var decl, cmds []string
	for i, v := range corpus {
		name := fmt.Sprintf("v%d", i)
		params[name] = v
		decl = append(decl, fmt.Sprintf(`%q: {"type": "String"}`, name))
		// Quoted, a value is one word (unquoted, it is split into words, as SSM's text is).
		cmds = append(cmds, fmt.Sprintf(`"printf '<%%s>' \"{{ %s }}\""`, name))
	}
	doc := `{"schemaVersion": "2.2", "parameters": {` + strings.Join(decl, ",") + `},
	  "mainSteps": [{"action": "aws:runShellScript", "name": "echo", "inputs": {"runCommand": [` + strings.Join(cmds, ",") + `]}}]}`
	ok(t, "document", "create", "--name", "injection", "--file", writeDoc(t, "injection.json", doc))
	pj, err := json.Marshal(params)
	require.NoError(t, err)

	// Refused before anything starts, one line each, and nothing is left behind.
	bad := func(v string) string {
		p := map[string]any{}
		for k, x := range params {
			p[k] = x
		}
		p["v0"] = v
		b, err := json.Marshal(p)
		require.NoError(t, err)
		return string(b)
	}
	for want, v := range map[string]string{
		"value is 1000000 bytes, more than the limit of 65536": strings.Repeat("x", 1_000_000),
		"value contains a NUL byte":                            "a\x00b",
	} {
		fails(t, want, "association", "create", "--name", "injection-bad", "--document", "injection",
			"--targets", "Key=InstanceIds,Values=inj-1", "--parameters", bad(v))
		fails(t, want, "document", "render", "injection", "--parameters", bad(v))
	}
	fails(t, "association injection-bad not found", "association", "describe", "injection-bad")

	out := ok(t, "association", "create", "--name", "injection", "--document", "injection",
		"--targets", "Key=InstanceIds,Values=inj-1", "--parameters", string(pj), "--wait")
	outs := targetsJSON(t, "injection", execID(t, out))
	require.Equal(t, contract.StatusSuccess, outs[0].Status, outs[0].DetailedStatus)
	var want strings.Builder
	for _, v := range corpus {
		want.WriteString("<" + v + ">")
	}
	require.Equal(t, want.String(), outs[0].Output[0].Stdout, "every value arrived verbatim")
	require.Empty(t, outs[0].Output[0].Stderr)
	_, err = os.Stat(marker)
	require.True(t, os.IsNotExist(err), "no value ran as code")
	ok(t, "association", "delete", "injection")
}

// TestWorkerSecretsFileChecked: a worker refuses a secrets file others can read, before
// it serves anything, in one line that does not quote the file's content.
func TestWorkerSecretsFileChecked(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(file, []byte("db_password="+secretCanary+"\n"), 0o644))
	require.NoError(t, os.Chmod(file, 0o644))
	// The worker logs its start first; its error is the last line.
	refused := func(want string) {
		t.Helper()
		_, errs, code := stead(t, "worker", "--secrets-file", file)
		require.Equal(t, 1, code, errs)
		lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
		last := lines[len(lines)-1]
		require.True(t, strings.HasPrefix(last, "stead: "), errs)
		require.Contains(t, last, want)
		require.NotContains(t, errs, secretCanary)
	}
	refused("readable by group or others (mode 0644)")
	require.NoError(t, os.WriteFile(file, []byte("db_password: ["+secretCanary+"\n"), 0o600))
	require.NoError(t, os.Chmod(file, 0o600))
	refused("not NAME=value lines and not valid YAML")
}
