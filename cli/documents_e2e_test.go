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
	err := c.GetWorkflow(context.Background(), contract.ExecutionWorkflowID(association, id), "").Get(context.Background(), &res)
	if err != nil {
		require.True(t, workflows.ExecutionResultOf(err, &res), "the ended execution carries its result: %v", err)
	}
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
}

func TestDocumentValidateAndRender(t *testing.T) {
	file := writeDoc(t, "doc.yaml", greetV1)
	require.Contains(t, ok(t, "document", "validate", file), "valid schemaVersion 2.2 document, 1 step, 1 parameter")
	fails(t, "json syntax error at line 1, column 8", "document", "validate", writeDoc(t, "bad.json", `{"a": tru}`))
	// Every problem at once, those found reading the document and those found checking it.
	fails(t, "descripton: unknown key; did you mean description?; step inv: plugin aws:softwareInventory is not supported", "document", "validate",
		writeDoc(t, "inventory.json", `{"schemaVersion": "2.2", "descripton": "x", "mainSteps": [{"action": "aws:softwareInventory", "name": "inv", "inputs": {}}]}`))
	fails(t, "open nope.yaml", "document", "validate", "nope.yaml")
	// A valid document Stead runs differently from SSM validates with warnings.
	out := ok(t, "document", "validate", "../documents/testdata/ssm-interpolation.yaml")
	require.Contains(t, out, "ssm-interpolation.yaml: warning: step interpolate: line 3: ${{ variable }} reads the variable whose name is the value of variable")
	require.Contains(t, out, "ssm-interpolation.yaml: valid schemaVersion 2.2 document, 2 steps, 5 parameters")
	require.Contains(t, ok(t, "document", "validate", "../documents/testdata/schema-1.2-shell.json"), "valid schemaVersion 1.2 document, 2 steps, 7 parameters")

	out = ok(t, "document", "render", file, "--parameters", "message=$(id)")
	require.Contains(t, out, "nothing was run")
	require.Contains(t, out, `env: SSM_message="$(id)"`)
	require.Contains(t, out, "sh script:\necho \"v1 ${SSM_message}\"")
	cross := writeDoc(t, "cross.yaml", `{"schemaVersion": "2.2", "mainSteps": [
  {"action": "aws:runPowerShellScript", "name": "win", "precondition": {"StringEquals": ["platformType", "Windows"]}, "inputs": {"runCommand": ["cmds"]}},
  {"action": "aws:runShellScript", "name": "lin", "inputs": {"runCommand": ["cmds"]}}]}`)
	out = ok(t, "document", "render", cross, "--platform", "windows")
	require.Contains(t, out, "skipped: precondition: platform windows is not [linux macos]")
	require.Contains(t, out, "powershell script:\ncmds")
	out = ok(t, "document", "render", "AWS-RunShellScript", "--parameters", `{"commands":["uptime"]}`)
	require.Contains(t, out, "document Stead-RunShellScript version 1")
	fails(t, "parameter commands: a value is required", "document", "render", "AWS-RunShellScript")
	fails(t, `platform "solaris": want linux or windows`, "document", "render", file, "--platform", "solaris")
}

// TestProjectDocumentsOnSSH runs the repository's own documents of schemas 1.2 and 2.0,
// and the placeholders SSM's textual substitution gives a meaning of their own, on a real
// SSH host.
func TestProjectDocumentsOnSSH(t *testing.T) {
	h := setup(t)
	h.register("proj-1", 46)
	home := homeOf(t, h.sshd.User)
	register := func(file string) string {
		name := "proj-" + strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		ok(t, "document", "create", "--name", name, "--file", filepath.Join("../documents/testdata", file))
		t.Cleanup(func() { stead(t, "document", "delete", name) })
		return name
	}

	out, _ := runOnce(t, "proj-interpolation", register("ssm-interpolation.yaml"), "proj-1",
		fmt.Sprintf(`{"user": %q, "commands": ["echo given"]}`, h.sshd.User))
	require.Equal(t, contract.StatusSuccess, out.Status, out.DetailedStatus)
	require.Equal(t, "home= "+home+"/x\nvariable="+home+"\npackage=one\npackage=two\npackage=three\nwords=3\nnext=42\n"+
		"literal $HOME `id` and "+h.sshd.User+"\n", out.Output[0].Stdout)
	require.Equal(t, "given\n", out.Output[1].Stdout)

	out, _ = runOnce(t, "proj-schema12", register("schema-1.2-shell.json"), "proj-1", "")
	require.Equal(t, contract.StatusSuccess, out.Status, out.DetailedStatus)
	require.Equal(t, "runShellScript-0=Success/0 runShellScript-1=Success/0", stepStatuses(out))
	require.Equal(t, "hello [\"ada\",\"grace\"]\n42 false\n", out.Output[0].Stdout)
	require.Equal(t, "{\"env\":\"test\"}\n[{\"device\":\"/dev/sdb\"}]\n", out.Output[1].Stdout)

	out, _ = runOnce(t, "proj-schema20", register("schema-2.0-steps.yaml"), "proj-1", "")
	require.Equal(t, contract.StatusSuccess, out.Status, out.DetailedStatus)
	require.Equal(t, "first=Success/0 last=Success/0 never=Skipped/0", stepStatuses(out))
	require.Equal(t, "first: from 2.0\n", out.Output[0].Stdout)
}

// corpusDir holds public SSM Command documents written by others (see its SOURCES.md),
// kept beside the repository, never in it.
const corpusDir = "../../shared/compat/ssm-corpus"

// requireCorpus skips a test without the corpus, saying where it comes from, except in CI
// (CI=true), where the corpus is and its absence fails the test.
func requireCorpus(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		msg := fmt.Sprintf("the SSM document corpus is not at %s: it is kept beside the repository, not in it "+
			"(public documents written by others, listed with their sources in its SOURCES.md)", corpusDir)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// corpusRuns lists the corpus documents documents/testdata/corpus.md says run on a real host.
func corpusRuns(t *testing.T) []string {
	data, err := os.ReadFile("../documents/testdata/corpus.md")
	require.NoError(t, err)
	var runs []string
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) >= 4 && cells[3] == "runs" {
			runs = append(runs, strings.TrimPrefix(cells[0], "| "))
		}
	}
	return runs
}

// TestCorpusOnSSH runs every corpus document documents/testdata/corpus.md marks "runs" on a
// real SSH host. Their commands assume root, the internet or AWS; the assertions are what
// honestly happens on an unprivileged Linux login.
func TestCorpusOnSSH(t *testing.T) {
	requireCorpus(t)
	h := setup(t)
	h.register("corpus-1", 41)
	home := homeOf(t, h.sshd.User)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("corpus download\n"))
	}))
	t.Cleanup(srv.Close)
	downloaded := fmt.Sprintf("stead-corpus-%d.txt", os.Getpid())
	t.Cleanup(func() { os.Remove(filepath.Join(home, downloaded)) })
	succeeds := func(stdout string) func(*testing.T, cli.TargetOutput) {
		return func(t *testing.T, o cli.TargetOutput) {
			require.Equal(t, contract.StatusSuccess, o.Status, o.DetailedStatus)
			require.Equal(t, stdout, o.Output[len(o.Output)-1].Stdout)
		}
	}
	failed := func(steps, detail string) func(*testing.T, cli.TargetOutput) {
		return func(t *testing.T, o cli.TargetOutput) {
			require.Equal(t, contract.StatusFailed, o.Status, o.DetailedStatus)
			if steps != "" {
				require.Equal(t, steps, stepStatuses(o))
			}
			require.Contains(t, o.DetailedStatus, detail)
		}
	}
	tests := []struct {
		file, params string
		check        func(*testing.T, cli.TargetOutput)
	}{
		// Schema 1.2: ifconfig is in /usr/sbin, on the PATH of root only on many hosts.
		{"agent-ifconfig-1.2.json", "", func(t *testing.T, o cli.TargetOutput) {
			require.Equal(t, "runShellScript", o.Steps[0].Name)
			require.Contains(t, []int{0, 127}, o.Steps[0].ExitCode, o.DetailedStatus)
		}},
		{"ug-run-shell-script-1.2.json", `{"commands": ["echo from a 1.2 document"]}`, succeeds("from a 1.2 document\n")},
		// Schema 2.0.
		{"agent-minified-2.0.json", "", succeeds("foo\n")},
		{"ug-ssm-param-default-2.0.json", `{"commands": ["echo given"]}`, succeeds("given\n")},
		// A String parameter that is a whole runCommand element is the script, as in SSM.
		{"ug-shellscript-timeout.yaml", "", succeeds("Hello World\n")},
		// Defaults read from Parameter Store: the document runs once the caller gives a value.
		{"ug-ssm-param-default-stringlist.yaml", `{"commands": ["echo given"]}`, succeeds("given\n")},
		{"ug-ssm-param-version-selector.yaml", `{"commands": "echo given"}`, succeeds("given\n")},
		// Installing needs root: the steps run and fail.
		{"ug-bootstrap-httpd.yaml", "", failed("", "step configureServer: exit code")},
		{"parameter-precondition-install.json", `{"action": "Install", "confirmed": "true"}`, failed("", "step InstallAwsCLI: exit code")},
		// The Windows step is skipped; the Linux one runs its literal "cmds", which this host does not have.
		{"cross-platform-patch.yaml", "", failed("PatchWindows=Skipped/0 PatchLinux=Failed/127", "exit code 127")},
		// aws:runPowerShellScript needs Windows: the Linux step fails with that reason.
		{"platform-precondition.json", `{"commands": ["uname -s"]}`, failed("runPowerShellScript1=Skipped/0 runPowerShellScript2=Failed/-1",
			"shell powershell is not available on node corpus-1")},
		// Sources Stead does not fetch fail when they are reached, and the document stops there.
		{"composite-download-rundocument.json", "", failed("downloadContent=Failed/-1 runDocument=Skipped/0 configureDocker=Skipped/0",
			"sourceType GitHub is not supported")},
		{"healthcheck-download-s3.yml", "", failed("", "sourceType S3 is not supported")},
		{"ug-rundocument-documenttype.yaml", `{"documentType": "SSMDocument"}`, failed("runDocument=Failed/-1", "documentPath is empty: there is no document to run")},
		{"ug-download-content-stringmap.json", fmt.Sprintf(`{"sourceType": "HTTP", "sourceInfo": {"url": %q, "allowInsecureDownload": true}}`, srv.URL+"/"+downloaded),
			func(t *testing.T, o cli.TargetOutput) {
				require.Equal(t, contract.StatusSuccess, o.Status, o.DetailedStatus)
				got, err := os.ReadFile(filepath.Join(home, downloaded))
				require.NoError(t, err)
				require.Equal(t, "corpus download\n", string(got))
			}},
		// useradd needs root; the script goes on and says so.
		{"create-linux-user.yaml", `{"UserName": "stead-corpus-user"}`, func(t *testing.T, o cli.TargetOutput) {
			require.Equal(t, contract.StatusSuccess, o.Status, o.DetailedStatus)
			require.Equal(t, "User stead-corpus-user not created\n", o.Output[0].Stdout)
		}},
		// Read-only diagnostics: the Linux step runs, the Windows one is skipped.
		{"ec2-disk-scan.json", `{"MountPoint": "/etc/ssh/"}`, func(t *testing.T, o cli.TargetOutput) {
			require.Equal(t, "LinuxDiskScan", o.Steps[0].Name)
			require.Contains(t, o.Output[0].Stdout, "== Server Time: ==")
			require.Equal(t, contract.StatusSkipped, o.Steps[1].Status)
		}},
		{"inventory-before-patching-indented.yaml", "", func(t *testing.T, o cli.TargetOutput) {
			require.Equal(t, "LinuxInventoryBeforePatching", o.Steps[0].Name)
			host, err := os.Hostname()
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(o.Output[0].Stdout, host+"\n"), o.Output[0].Stdout)
		}},
	}
	var tested []string
	for i, tt := range tests {
		tested = append(tested, tt.file)
		t.Run(tt.file, func(t *testing.T) {
			name := fmt.Sprintf("corpus-%d", i)
			ok(t, "document", "create", "--name", name, "--file", filepath.Join(corpusDir, tt.file))
			t.Cleanup(func() { stead(t, "document", "delete", name) })
			out, _ := runOnce(t, name+"-run", name, "corpus-1", tt.params)
			tt.check(t, out)
		})
	}
	require.ElementsMatch(t, corpusRuns(t), tested, "the documents documents/testdata/corpus.md says run")
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
	// Unquoted, a value is split into words as SSM's text is; quoted, it is one word.
	var want strings.Builder
	for _, v := range corpus {
		for _, word := range strings.Fields(v) {
			fmt.Fprintf(&want, "<%s>\n", word)
		}
		fmt.Fprintf(&want, "<%s>\n<%s>\n", v, v)
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
	out, _ := runOnce(t, "e2e-nested", "e2e-outer", "nest-1", `{"msg":"$(id); x"}`)
	// first fails twice (onFailure continue), the nested step and the finally step run;
	// the document ends Failed because a step failed.
	require.Equal(t, contract.StatusFailed, out.Status)
	require.Equal(t, "first=Failed/3 nested.say=Success/0 cleanup=Success/0", stepStatuses(out))
	require.Contains(t, out.DetailedStatus, "(after 2 attempts) (onFailure continue: later steps ran)")
	require.Len(t, out.Output, 4) // two attempts of first, then say and cleanup
	require.Equal(t, "inner $(id); x\n", out.Output[2].Stdout)

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
		out, _ := runOnce(t, "e2e-localpath-run", "e2e-localpath", "lp-1", params("/inner.yaml", dir+"/inner.yaml", dir+"/inner.yaml"))
		require.Equal(t, contract.StatusSuccess, out.Status, out.DetailedStatus)
		require.Equal(t, "fetch=Success/0 run.say=Success/0 run.where=Success/0 after=Success/0", stepStatuses(out))
		require.Len(t, out.Output, 4)
		// Unquoted, the value is split into words as SSM's text is; quoted, it is one word.
		require.Equal(t, fmt.Sprintf("<x;>\n<touch>\n<%s>\n<x; touch %s>\n", marker, marker), out.Output[1].Stdout)
		require.Equal(t, "run.say", out.Output[1].Name)
		require.Equal(t, "nested ran in "+home+"\n", out.Output[2].Stdout)
		require.Equal(t, "after\n", out.Output[3].Stdout)
		require.NoFileExists(t, marker)
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
