package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/cli"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/workflows"
)

// writeDoc writes a document file into a test directory.
func writeDoc(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// executionResult reads an execution's final result from its workflow.
func executionResult(t *testing.T, association, id string) workflows.ExecutionResult {
	t.Helper()
	c := dialTest(t)
	defer c.Close()
	var res workflows.ExecutionResult
	require.NoError(t, c.GetWorkflow(context.Background(), contract.ExecutionWorkflowID(association, id), "").Get(context.Background(), &res))
	return res
}

// runOnce creates an association that runs doc once on node with params and returns its
// only target's outcome. It deletes the association afterwards.
func runOnce(t *testing.T, name, doc, node, params string) (cli.TargetOutput, string) {
	t.Helper()
	args := []string{"association", "create", "--name", name, "--document", doc, "--targets", "Key=InstanceIds,Values=" + node, "--wait"}
	if params != "" {
		args = append(args, "--parameters", params)
	}
	out, errs, _ := stead(t, args...)
	id := execID(t, out+errs)
	outs := targetsJSON(t, name, id)
	require.Len(t, outs, 1)
	ok(t, "association", "delete", name)
	return outs[0], id
}

// stepStatuses renders a target's steps as "name=Status/exit ..." for comparison.
func stepStatuses(o cli.TargetOutput) string {
	var parts []string
	for _, s := range o.Steps {
		parts = append(parts, fmt.Sprintf("%s=%s/%d", s.Name, s.Status, s.ExitCode))
	}
	return strings.Join(parts, " ")
}

func homeOf(t *testing.T, login string) string {
	u, err := user.Lookup(login)
	require.NoError(t, err)
	return u.HomeDir
}

const greetV1 = `schemaVersion: "2.2"
parameters:
  message: {type: String, default: world}
mainSteps:
  - action: aws:runShellScript
    name: greet
    inputs:
      runCommand: ["echo \"v1 {{ message }}\""]
`

func TestDocumentRegistry(t *testing.T) {
	h := setup(t)
	h.register("reg-1", 40)
	const name = "e2e-greeting"
	v1 := writeDoc(t, "v1.yaml", greetV1)
	v2 := writeDoc(t, "v2.yaml", strings.Replace(greetV1, "v1 ", "v2 ", 1))

	require.Contains(t, ok(t, "document", "create", "--name", name, "--file", v1), "document e2e-greeting created: version 1 (sha256:")
	fails(t, "document e2e-greeting already exists (version 1)", "document", "create", "--name", name, "--file", v1)
	fails(t, "document AWS-RunShellScript is built in (Stead-RunShellScript)", "document", "create", "--name", "AWS-RunShellScript", "--file", v1)
	fails(t, "the prefix Stead- is reserved", "document", "create", "--name", "Stead-Mine", "--file", v1)
	bad := writeDoc(t, "bad.json", `{"schemaVersion": "2.2", "mainSteps": [{"action": "aws:runShellScript", "name": "a", "inputs": {"runComand": "x"}}]}`)
	fails(t, "runComand: unknown input; did you mean runCommand?", "document", "create", "--name", "e2e-bad", "--file", bad)
	fails(t, "document e2e-nothing not found", "document", "update", "--name", "e2e-nothing", "--file", v1)
	require.Contains(t, ok(t, "document", "update", "--name", name, "--file", v1), "unchanged: version 1 already has this content")
	require.Contains(t, ok(t, "document", "update", "--name", name, "--file", v2), "updated: version 2")

	// The default stays version 1 until it is set.
	var desc cli.DocumentDescription
	require.NoError(t, json.Unmarshal([]byte(ok(t, "document", "describe", name, "--output", "json")), &desc))
	require.Equal(t, 1, desc.Version)
	require.Equal(t, 2, desc.LatestVersion)
	require.Equal(t, documents.Hash([]byte(greetV1)), desc.Hash)
	require.Contains(t, desc.CreatedBy, "@")
	require.Contains(t, ok(t, "document", "describe", name, "--version", "$LATEST"), "v2 {{ message }}")
	require.Contains(t, ok(t, "document", "versions", name), "default")
	list := ok(t, "document", "list")
	require.Contains(t, list, "Stead-DownloadContent")
	require.Contains(t, list, "AWS-RunDocument")
	require.Regexp(t, name+`\s+registered\s+1\s+2`, list)

	out, _ := runOnce(t, "e2e-reg-default", name, "reg-1", "message=there")
	require.Equal(t, "v1 there\n", out.Output[0].Stdout)

	ok(t, "document", "set-default", name, "--version", "2")
	fails(t, "document e2e-greeting has no version 9 (versions 1-2)", "document", "set-default", name, "--version", "9")
	out, id := runOnce(t, "e2e-reg-v2", name, "reg-1", "")
	require.Equal(t, "v2 world\n", out.Output[0].Stdout)
	res := executionResult(t, "e2e-reg-v2", id)
	require.Equal(t, name, res.Document)
	require.Equal(t, "2", res.DocumentVersion)
	require.Equal(t, documents.Hash([]byte(strings.Replace(greetV1, "v1 ", "v2 ", 1))), res.DocumentHash)

	// A pinned version runs that version whatever the default.
	out, id = runOnce(t, "e2e-reg-pinned", name+":1", "reg-1", "")
	require.Equal(t, "v1 world\n", out.Output[0].Stdout)
	require.Equal(t, "1", executionResult(t, "e2e-reg-pinned", id).DocumentVersion)
	fails(t, "document e2e-greeting:7 not found", "association", "create", "--name", "e2e-reg-bad", "--document", name+":7",
		"--targets", "Key=InstanceIds,Values=reg-1")

	ok(t, "document", "delete", name)
	fails(t, "document e2e-greeting not found", "document", "describe", name)
	fails(t, "document e2e-greeting not found", "document", "delete", name)
	require.NotContains(t, ok(t, "document", "list"), name)
	fails(t, "document e2e-greeting not found", "association", "create", "--name", "e2e-reg-gone", "--document", name,
		"--targets", "Key=InstanceIds,Values=reg-1")
	saveHistories(t, map[string]string{"document.json": contract.DocumentWorkflowID(name)})
}

func TestDocumentValidateAndRender(t *testing.T) {
	file := writeDoc(t, "doc.yaml", greetV1)
	require.Contains(t, ok(t, "document", "validate", file), "valid schemaVersion 2.2 document, 1 steps, 1 parameters")
	fails(t, "json syntax error at line 1, column 8", "document", "validate", writeDoc(t, "bad.json", `{"a": tru}`))
	fails(t, "plugin aws:softwareInventory is not supported", "document", "validate", "../../shared/compat/ssm-documents/custom-inventory-log4j.yaml")
	fails(t, "open nope.yaml", "document", "validate", "nope.yaml")

	out := ok(t, "document", "render", file, "--parameters", "message=$(id)")
	require.Contains(t, out, "nothing was run")
	require.Contains(t, out, `env: SSM_message="$(id)"`)
	require.Contains(t, out, "sh script:\necho \"v1 ${SSM_message}\"")
	out = ok(t, "document", "render", "../../shared/compat/ssm-documents/cross-platform-patch.yaml", "--platform", "windows")
	require.Contains(t, out, "skipped: precondition: platform windows is not [linux]")
	require.Contains(t, out, "powershell script:\ncmds")
	out = ok(t, "document", "render", "AWS-RunShellScript", "--parameters", `{"commands":["uptime"]}`)
	require.Contains(t, out, "document Stead-RunShellScript version 1")
	fails(t, "parameter commands: a value is required", "document", "render", "AWS-RunShellScript")
	fails(t, `platform "solaris": want linux or windows`, "document", "render", file, "--platform", "solaris")
}

// TestCompatDocumentsOnSSH registers every compat document and runs the runnable ones on a
// real SSH host. Their commands assume root, the internet or Windows; the assertions are
// what honestly happens on an unprivileged Linux login.
func TestCompatDocumentsOnSSH(t *testing.T) {
	h := setup(t)
	h.register("compat-1", 41)
	const dir = "../../shared/compat/ssm-documents"
	register := func(file string) string {
		name := "compat-" + strings.TrimSuffix(strings.TrimSuffix(file, ".json"), ".yaml")
		ok(t, "document", "create", "--name", name, "--file", filepath.Join(dir, file))
		t.Cleanup(func() { stead(t, "document", "delete", name) })
		return name
	}
	tests := []struct {
		file, params string
		status       string
		steps        string
		detail       string
	}{
		// aws:runPowerShellScript needs Windows (WinRM is not there yet): the Linux step fails with that reason.
		{"platform-precondition.json", `{"commands":["uname -s"]}`, contract.StatusFailed,
			"runPowerShellScript1=Skipped/0 runPowerShellScript2=Failed/-1", "shell powershell is not available on node compat-1"},
		// The Windows step is skipped; the Linux one runs its literal "cmds", which this host does not have.
		{"cross-platform-patch.yaml", "", contract.StatusFailed, "PatchWindows=Skipped/0 PatchLinux=Failed/127", "exit code 127"},
		// Installing needs root and apt: the step runs and fails; the uninstall step is not reached.
		{"parameter-precondition-install.json", `{"action":"Install","confirmed":"true"}`, contract.StatusFailed,
			"", "step InstallAwsCLI: exit code"},
		// Neither precondition holds: nothing runs, and the document succeeds.
		{"parameter-precondition-install.json", `{"action":"Uninstall","confirmed":"false"}`, contract.StatusSuccess,
			"InstallAwsCLI=Skipped/0 UninstallAwsCLI=Skipped/0", ""},
		{"parameter-precondition.json", `{"messagePrecondition":"OtherValue"}`, contract.StatusSuccess, "runPowerShellScript1=Skipped/0", ""},
		// GitHub sources are refused when the step is reached, and the document stops there.
		{"composite-download-rundocument.json", "", contract.StatusFailed,
			"downloadContent=Failed/-1 runDocument=Skipped/0 configureDocker=Skipped/0", "sourceType GitHub is not supported"},
	}
	names := map[string]string{}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d-%s", i, tt.file), func(t *testing.T) {
			if names[tt.file] == "" {
				names[tt.file] = register(tt.file)
			}
			out, _ := runOnce(t, fmt.Sprintf("compat-run-%d", i), names[tt.file], "compat-1", tt.params)
			require.Equal(t, tt.status, out.Status, out.DetailedStatus)
			if tt.steps != "" {
				require.Equal(t, tt.steps, stepStatuses(out))
			}
			require.Contains(t, out.DetailedStatus, tt.detail)
		})
	}
	t.Run("install step exit code", func(t *testing.T) {
		out, _ := runOnce(t, "compat-run-sudo", names["parameter-precondition-install.json"], "compat-1", `{"action":"Install","confirmed":"true"}`)
		require.NotZero(t, out.Steps[0].ExitCode)
		require.Equal(t, contract.StatusSkipped, out.Steps[1].Status)
	})
	// Documents with plugins Stead does not run are refused when registered, naming the plugin.
	for _, file := range []string{"custom-inventory-log4j.yaml", "powershell-then-inventory.yaml"} {
		fails(t, "plugin aws:softwareInventory is not supported", "document", "create", "--name", "compat-refused", "--file", filepath.Join(dir, file))
	}
	// The Windows-only documents register (they are valid); they run once WinRM exists.
	for _, file := range []string{"install-vscode-windows.json", "set-registry-windows.json"} {
		register(file)
	}
}

func TestInjectionThroughRegisteredDocument(t *testing.T) {
	h := setup(t)
	h.register("inj-1", 42)
	marker := filepath.Join(os.TempDir(), fmt.Sprintf("stead-pwned-%d", os.Getpid()))
	t.Cleanup(func() { os.Remove(marker) })
	corpus := []string{
		"x; touch " + marker,
		"$(touch " + marker + ")",
		"`touch " + marker + "`",
		"a\ntouch " + marker,
		"'; touch " + marker + "; '",
		`"; touch ` + marker + `; "`,
		"${IFS}$(id)|| touch " + marker + " &",
		`\"$(touch ` + marker + `)\"`,
	}
	var params []string
	var commands []string
	values := map[string]any{}
	for i, v := range corpus {
		params = append(params, fmt.Sprintf("  v%d: {type: String}", i))
		commands = append(commands, fmt.Sprintf(`      - printf '<%%s>\n' {{ v%d }} "{{ v%d }}" '{{ v%d }}'`, i, i, i))
		values[fmt.Sprintf("v%d", i)] = v
	}
	doc := "schemaVersion: '2.2'\nparameters:\n" + strings.Join(params, "\n") +
		"\nmainSteps:\n  - action: aws:runShellScript\n    name: echo\n    inputs:\n      runCommand:\n" + strings.Join(commands, "\n") + "\n"
	ok(t, "document", "create", "--name", "e2e-injection", "--file", writeDoc(t, "inj.yaml", doc))
	t.Cleanup(func() { stead(t, "document", "delete", "e2e-injection") })
	b, err := json.Marshal(values)
	require.NoError(t, err)
	out, _ := runOnce(t, "e2e-injection-run", "e2e-injection", "inj-1", string(b))
	require.Equal(t, contract.StatusSuccess, out.Status, out.DetailedStatus)
	var want strings.Builder
	for _, v := range corpus {
		for range 3 {
			fmt.Fprintf(&want, "<%s>\n", v)
		}
	}
	require.Equal(t, want.String(), out.Output[0].Stdout)
	require.NoFileExists(t, marker)
}

func TestDownloadContentOverSFTP(t *testing.T) {
	h := setup(t)
	h.register("dl-1", 43)
	content := []byte("agent build 42\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/agent.txt" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(content)
	}))
	t.Cleanup(srv.Close)
	sum := sha256.Sum256(content)
	good := hex.EncodeToString(sum[:])
	dir := fmt.Sprintf("stead-dl-%d", os.Getpid())
	home := homeOf(t, h.sshd.User)
	t.Cleanup(func() { os.RemoveAll(filepath.Join(home, dir)) })
	params := func(sha, path, dest string) string {
		b, _ := json.Marshal(map[string]any{"sourceType": "HTTP", "destinationPath": dest,
			"sourceInfo": map[string]any{"url": srv.URL + path, "sha256": sha, "allowInsecureDownload": true}})
		return string(b)
	}

	out, _ := runOnce(t, "e2e-download", "AWS-DownloadContent", "dl-1", params(good, "/files/agent.txt", dir+"/"))
	require.Equal(t, contract.StatusSuccess, out.Status, out.DetailedStatus)
	got, err := os.ReadFile(filepath.Join(home, dir, "agent.txt"))
	require.NoError(t, err)
	require.Equal(t, content, got)
	require.Contains(t, out.Output[0].Stdout, "(15 bytes, sha256 "+good+")")

	out, _ = runOnce(t, "e2e-download-bad", "Stead-DownloadContent", "dl-1", params(strings.Repeat("0", 64), "/files/agent.txt", dir+"/wrong.txt"))
	require.Equal(t, contract.StatusFailed, out.Status)
	require.Contains(t, out.DetailedStatus, "not the expected "+strings.Repeat("0", 64)+"; nothing was written to the node")
	require.NoFileExists(t, filepath.Join(home, dir, "wrong.txt"))

	out, _ = runOnce(t, "e2e-download-404", "Stead-DownloadContent", "dl-1", params("", "/files/missing", dir+"/missing"))
	require.Equal(t, contract.StatusFailed, out.Status)
	require.Contains(t, out.DetailedStatus, "404 Not Found")

	out, _ = runOnce(t, "e2e-download-github", "Stead-DownloadContent", "dl-1", `{"sourceType":"GitHub","sourceInfo":{"owner":"o"}}`)
	require.Equal(t, contract.StatusFailed, out.Status)
	require.Contains(t, out.DetailedStatus, "sourceType GitHub is not supported")

	// A worker that serves no files refuses sourceType Worker at run time.
	out, _ = runOnce(t, "e2e-download-worker", "Stead-DownloadContent", "dl-1", `{"sourceType":"Worker","sourceInfo":{"path":"a.txt"}}`)
	require.Contains(t, out.DetailedStatus, "this worker serves no files (start it with --files DIR)")
}

func TestRunDocumentNestingAndCycles(t *testing.T) {
	h := setup(t)
	h.register("nest-1", 44)
	inner := `{"schemaVersion": "2.2", "parameters": {"message": {"type": "String"}},
  "mainSteps": [{"action": "aws:runShellScript", "name": "say", "inputs": {"runCommand": ["echo \"inner {{ message }}\""]}}]}`
	outer := `{"schemaVersion": "2.2", "parameters": {"msg": {"type": "String"}},
  "mainSteps": [
    {"action": "aws:runShellScript", "name": "first", "onFailure": "continue", "maxAttempts": 2, "inputs": {"runCommand": ["echo first", "exit 3"]}},
    {"action": "aws:runDocument", "name": "nested", "inputs": {"documentType": "SSMDocument", "documentPath": "e2e-inner:1",
      "documentParameters": "{\"message\": \"{{ msg }}\"}"}},
    {"action": "aws:runShellScript", "name": "cleanup", "finallyStep": true, "inputs": {"runCommand": "echo finally"}}]}`
	ok(t, "document", "create", "--name", "e2e-inner", "--file", writeDoc(t, "inner.json", inner))
	ok(t, "document", "create", "--name", "e2e-outer", "--file", writeDoc(t, "outer.json", outer))
	t.Cleanup(func() {
		for _, n := range []string{"e2e-inner", "e2e-outer", "e2e-cycle-a", "e2e-cycle-b"} {
			stead(t, "document", "delete", n)
		}
	})
	out, id := runOnce(t, "e2e-nested", "e2e-outer", "nest-1", `{"msg":"$(id); x"}`)
	// first fails twice (onFailure continue), the nested step and the finally step run;
	// the document ends Failed because a step failed.
	require.Equal(t, contract.StatusFailed, out.Status)
	require.Equal(t, "first=Failed/3 nested.say=Success/0 cleanup=Success/0", stepStatuses(out))
	require.Contains(t, out.DetailedStatus, "(after 2 attempts) (onFailure continue: later steps ran)")
	require.Len(t, out.Output, 4) // two attempts of first, then say and cleanup
	require.Equal(t, "inner $(id); x\n", out.Output[2].Stdout)
	saveHistories(t, map[string]string{"execution-stepflow.json": contract.ExecutionWorkflowID("e2e-nested", id)})

	cycleA := `{"schemaVersion": "2.2", "mainSteps": [{"action": "aws:runDocument", "name": "next", "inputs": {"documentType": "SSMDocument", "documentPath": "e2e-cycle-b"}}]}`
	ok(t, "document", "create", "--name", "e2e-cycle-a", "--file", writeDoc(t, "a.json", cycleA))
	ok(t, "document", "create", "--name", "e2e-cycle-b", "--file", writeDoc(t, "b.json", strings.Replace(cycleA, "e2e-cycle-b", "e2e-cycle-a", 1)))
	fails(t, "aws:runDocument cycle: e2e-cycle-a -> e2e-cycle-b -> e2e-cycle-a", "association", "create", "--name", "e2e-cycle",
		"--document", "e2e-cycle-a", "--targets", "Key=InstanceIds,Values=nest-1")
	fails(t, "aws:runDocument cycle", "document", "render", "e2e-cycle-b")
}

// localPathOuter downloads {{ url }} to {{ dest }} on the node, then runs the document
// file {{ path }} with the caller's {{ msg }} as its message, then one more step.
const localPathOuter = `schemaVersion: '2.2'
parameters:
  url: {type: String}
  dest: {type: String}
  path: {type: String}
  msg: {type: String}
mainSteps:
  - action: aws:downloadContent
    name: fetch
    inputs:
      sourceType: HTTP
      sourceInfo: {url: "{{ url }}", allowInsecureDownload: true}
      destinationPath: "{{ dest }}"
  - action: aws:runDocument
    name: run
    inputs:
      documentType: LocalPath
      documentPath: "{{ path }}"
      documentParameters: {message: "{{ msg }}"}
  - action: aws:runShellScript
    name: after
    inputs: {runCommand: ["echo after"]}
`

// localPathInner is the document file the node downloads.
const localPathInner = `schemaVersion: '2.2'
parameters:
  message: {type: String}
mainSteps:
  - action: aws:runShellScript
    name: say
    inputs:
      runCommand:
        - printf '<%s>\n' {{ message }} "{{ message }}"
  - action: aws:runShellScript
    name: where
    inputs:
      runCommand: ["echo nested ran in $(pwd)"]
`

func TestRunDocumentLocalPath(t *testing.T) {
	h := setup(t)
	h.register("lp-1", 45)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/inner.yaml":
			_, _ = w.Write([]byte(localPathInner))
		case "/large.yaml":
			_, _ = w.Write([]byte(localPathInner + "#" + strings.Repeat("x", documents.MaxDocumentSize) + "\n"))
		case "/inventory.json":
			_, _ = w.Write([]byte(`{"schemaVersion": "2.2", "mainSteps": [{"action": "aws:softwareInventory", "name": "inv", "inputs": {}}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	marker := filepath.Join(os.TempDir(), fmt.Sprintf("pwned-localpath-%d", os.Getpid()))
	t.Cleanup(func() { os.Remove(marker) })
	dir := fmt.Sprintf("stead-lp-%d", os.Getpid())
	home := homeOf(t, h.sshd.User)
	t.Cleanup(func() { os.RemoveAll(filepath.Join(home, dir)) })
	ok(t, "document", "create", "--name", "e2e-localpath", "--file", writeDoc(t, "outer.yaml", localPathOuter))
	t.Cleanup(func() { stead(t, "document", "delete", "e2e-localpath") })
	params := func(source, dest, path string) string {
		b, err := json.Marshal(map[string]string{"url": srv.URL + source, "dest": dest, "path": path, "msg": "x; touch " + marker})
		require.NoError(t, err)
		return string(b)
	}

	t.Run("runs the downloaded document", func(t *testing.T) {
		// Both steps name the file relative to the login's home.
		out, id := runOnce(t, "e2e-localpath-run", "e2e-localpath", "lp-1", params("/inner.yaml", dir+"/inner.yaml", dir+"/inner.yaml"))
		require.Equal(t, contract.StatusSuccess, out.Status, out.DetailedStatus)
		require.Equal(t, "fetch=Success/0 run.say=Success/0 run.where=Success/0 after=Success/0", stepStatuses(out))
		require.Len(t, out.Output, 4)
		require.Equal(t, fmt.Sprintf("<x; touch %s>\n<x; touch %s>\n", marker, marker), out.Output[1].Stdout)
		require.Equal(t, "run.say", out.Output[1].Name)
		require.Equal(t, "nested ran in "+home+"\n", out.Output[2].Stdout)
		require.Equal(t, "after\n", out.Output[3].Stdout)
		require.NoFileExists(t, marker)
		saveHistories(t, map[string]string{"execution-localdocument.json": contract.ExecutionWorkflowID("e2e-localpath-run", id)})
	})
	// Each file that cannot run fails the runDocument step with its reason, and the
	// document stops there (onFailure exit, the default).
	for _, tt := range []struct {
		name, source, dest, path, detail string
	}{
		{"missing", "/inner.yaml", dir + "/inner.yaml", dir + "/missing.yaml",
			"step run: documentPath " + dir + "/missing.yaml (relative to the login's home): no such file on node lp-1"},
		{"too large", "/large.yaml", dir + "/large.yaml", filepath.Join(home, dir, "large.yaml"),
			fmt.Sprintf("step run: documentPath %s: the file is larger than the 65536 bytes a document may have", filepath.Join(home, dir, "large.yaml"))},
		{"unsupported plugin", "/inventory.json", dir + "/inventory.json", dir + "/inventory.json",
			"step run: validate document " + dir + "/inventory.json: step inv: plugin aws:softwareInventory is not supported"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := runOnce(t, "e2e-localpath-"+strings.ReplaceAll(tt.name, " ", "-"), "e2e-localpath", "lp-1", params(tt.source, tt.dest, tt.path))
			require.Equal(t, contract.StatusFailed, out.Status, out.DetailedStatus)
			require.Equal(t, "fetch=Success/0 run=Failed/-1 after=Skipped/0", stepStatuses(out))
			require.Equal(t, tt.detail, out.DetailedStatus)
			require.NotContains(t, out.DetailedStatus, "\n")
		})
	}
	require.NoFileExists(t, marker)
}
