package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/workflows"
)

// Nodes that could never run are refused at register, each with what is
// wrong, instead of failing every execution later.
func TestRegisterRefusesNodesThatCannotRun(t *testing.T) {
	const key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	base := []string{"node", "register", "--id", "edge-1"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no user", []string{"--address", "10.0.0.1"}, "user: required for the ssh transport"},
		{"shell in address", []string{"--address", ";id", "--user", "u"}, `address ";id": want a host name (letters, digits, '-' and '.') or an IP address`},
		{"port in address", []string{"--address", "127.0.1.10:2322", "--user", "u"}, `address "127.0.1.10:2322": give the port apart (--address 127.0.1.10 --port 2322)`},
		{"host key not base64", []string{"--address", "10.0.0.1", "--user", "u", "--host-key", "ssh-ed25519 AAAA!!"}, "the key is not valid base64"},
		{"host key of another type", []string{"--address", "10.0.0.1", "--user", "u", "--host-key", "ssh-rsa " + key}, "the key is not a ssh-rsa public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fails(t, tc.want, append(append([]string{}, base...), tc.args...)...)
		})
	}
}

// Schedules that never fire and target values that are slips are refused;
// LW, documented, is taken.
func TestAssociationInputEdges(t *testing.T) {
	h := setup(t)
	h.register("edge-2", 81)
	base := []string{"association", "create", "--document", "Stead-RunShellScript", "--targets", "Key=InstanceIds,Values=edge-2", "--parameters", "commands=true"}
	with := func(name string, extra ...string) []string {
		return append(append(append([]string{}, base...), "--name", name), extra...)
	}
	fails(t, "at(1999-01-01T00:00:00): the time has passed", with("edge-at", "--schedule", "at(1999-01-01T00:00:00)")...)
	fails(t, "cron(0 0 1 1 ? 1970): never fires again: its years have passed", with("edge-cron", "--schedule", "cron(0 0 1 1 ? 1970)")...)
	fails(t, "rate(2147483647 minutes): interval is too long", with("edge-rate", "--schedule", "rate(2147483647 minutes)")...)
	fails(t, "tag:g: an empty value (two commas in a row?)", with("edge-tags", "--targets", "Key=tag:g,Values=g0,,=,")...)
	ok(t, with("edge-lw", "--schedule", "cron(0 9 LW * ? *)", "--apply-only-at-cron-interval")...)
	t.Cleanup(func() { stead(t, "association", "delete", "edge-lw") })
	require.Contains(t, ok(t, "association", "describe", "edge-lw"), "cron(0 9 LW * ? *)")
}

// A document whose step runs the document itself could only fail: it is
// refused at create, naming the step.
func TestDocumentRunningItselfIsRefused(t *testing.T) {
	f := filepath.Join(t.TempDir(), "self.yaml")
	doc := "schemaVersion: '2.2'\ndescription: runs itself\nmainSteps:\n" +
		"  - action: aws:runDocument\n    name: again\n    inputs:\n      documentType: SSMDocument\n      documentPath: edge-self\n"
	require.NoError(t, os.WriteFile(f, []byte(doc), 0o600))
	fails(t, "document edge-self: step again runs edge-self itself, a cycle that could only fail", "document", "create", "--name", "edge-self", "--file", f)
}

// However long the input an error quotes, the error is one bounded line.
func TestErrorLinesAreBounded(t *testing.T) {
	long := "every " + strings.Repeat("x", 100000)
	_, errs, code := stead(t, "association", "create", "--name", "long", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=a", "--parameters", "commands=true", "--schedule", long)
	require.Equal(t, 1, code)
	require.Equal(t, 1, strings.Count(errs, "\n"), "one line")
	require.Less(t, len(errs), 4100, "%.300s", errs)
	require.Contains(t, errs, "more bytes)")
}

// An association naming nodes by id keeps working when one of them is
// deregistered and registered again: the NewNode run covers that node
// alone, and the next run reaches both.
func TestReregisteredNodeKeepsIDTargets(t *testing.T) {
	h := setup(t)
	h.register("rereg-23", 82)
	h.register("rereg-24", 83)
	out := ok(t, "association", "create", "--name", "rereg", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=rereg-23,rereg-24", "--parameters", "commands=echo hi", "--wait")
	require.Contains(t, out, "2 of 2 targets succeeded")
	t.Cleanup(func() { stead(t, "association", "delete", "rereg") })

	ok(t, "node", "deregister", "rereg-24")
	h.register("rereg-24", 83)
	var newRun workflows.ExecutionRecord
	require.Eventually(t, func() bool {
		var recs []workflows.ExecutionRecord
		if err := json.Unmarshal([]byte(ok(t, "association", "executions", "rereg", "--output", "json")), &recs); err != nil {
			return false
		}
		for _, r := range recs {
			if r.Reason == workflows.ReasonNewNode && r.Status != contract.StatusInProgress && r.Status != contract.StatusPending {
				newRun = r
				return true
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "no NewNode run within 30s")
	outs := targetsJSON(t, "rereg", newRun.ExecutionID)
	require.Len(t, outs, 1, "only the re-registered node runs: %+v", outs)
	require.Equal(t, "rereg-24", outs[0].NodeID)
	require.Equal(t, contract.StatusSuccess, outs[0].Status, outs[0].DetailedStatus)
	require.Equal(t, contract.StatusSuccess, newRun.Status, newRun.DetailedStatus)

	out = ok(t, "association", "start", "rereg", "--wait")
	require.Contains(t, out, "2 of 2 targets succeeded")
}

// Parameters come from a file or standard input as well as from the
// command line, so that values need not show in the process list.
func TestParametersFromFileAndStdin(t *testing.T) {
	f := filepath.Join(t.TempDir(), "params.json")
	require.NoError(t, os.WriteFile(f, []byte(`{"commands": ["echo from-file"]}`+"\n"), 0o600))
	require.Contains(t, ok(t, "document", "render", "Stead-RunShellScript", "--parameters", "@"+f), "echo from-file")
	require.Contains(t, ok(t, "document", "render", "Stead-RunShellScript", "--parameters-file", f), "echo from-file")
	out, errs, code := steadIn(t, `{"commands": ["echo from-stdin"]}`, "document", "render", "Stead-RunShellScript", "--parameters-file", "-")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "echo from-stdin")
	out, errs, code = steadIn(t, `{"commands": ["echo at-stdin"]}`, "document", "render", "Stead-RunShellScript", "--parameters", "@-")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "echo at-stdin")
	fails(t, "read parameters: open "+f+".missing", "document", "render", "Stead-RunShellScript", "--parameters", "@"+f+".missing")
}

// An Ansible user brings the fleet over in one command: hosts, their
// addresses, ports and users from ansible-inventory --list, groups as tags;
// once their keys are trusted, an association by group runs on them.
func TestImportAnsibleInventory(t *testing.T) {
	h := setup(t)
	inv := fmt.Sprintf(`{
  "_meta": {"hostvars": {
    "ans-1": {"ansible_host": "127.0.0.84", "ansible_port": %[1]d, "ansible_user": %[2]q},
    "ans-2": {"ansible_host": "127.0.0.85", "ansible_port": %[1]d, "ansible_user": %[2]q}
  }},
  "all": {"children": ["ungrouped", %[3]q]},
  %[3]q: {"hosts": ["ans-1", "ans-2"]}
}`, h.sshd.Port, h.sshd.User, h.tag)
	f := filepath.Join(t.TempDir(), "inventory.json")
	require.NoError(t, os.WriteFile(f, []byte(inv), 0o600))
	fails(t, `format "ini": want yaml or ansible`, "node", "import", "--format", "ini", f)
	require.Contains(t, ok(t, "node", "import", "--format", "ansible", f), "2 nodes registered")
	var st workflows.NodeState
	require.NoError(t, json.Unmarshal([]byte(ok(t, "node", "describe", "ans-1", "--output", "json")), &st))
	require.Equal(t, "127.0.0.84", st.Node.Address)
	require.Equal(t, h.sshd.Port, st.Node.Port)
	require.Equal(t, map[string]string{h.tag: "true"}, st.Node.Tags)
	for _, id := range []string{"ans-1", "ans-2"} {
		ok(t, "node", "trust", id, "--yes")
	}
	out := ok(t, "association", "create", "--name", "from-ansible", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:"+h.tag+",Values=true", "--parameters", "commands=echo ansible", "--wait")
	t.Cleanup(func() { stead(t, "association", "delete", "from-ansible") })
	require.Contains(t, out, "2 of 2 targets succeeded")
}

// --dry-run resolves the targets now and shows the rate-control plan and
// the script, changing nothing.
func TestDryRun(t *testing.T) {
	h := setup(t)
	for i, id := range []string{"dry-1", "dry-2", "dry-3"} {
		h.register(id, 86+i)
	}
	create := []string{"association", "create", "--name", "dry", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:role,Values=" + h.tag, "--max-concurrency", "2", "--max-errors", "1",
		"--parameters", `{"commands":["echo dry-run-canary"]}`}
	out := ok(t, append(create, "--dry-run")...)
	for _, want := range []string{
		"dry run of association dry: nothing was created, changed or run",
		"targets: 3 nodes now (Key=tag:role,Values=" + h.tag + "): dry-1, dry-2, dry-3",
		"rate control: 2 at a time (max-concurrency 2), 2 rounds; no node starts after 2 failures (max-errors 1)",
		"schedule: none",
		"echo dry-run-canary",
	} {
		require.Contains(t, out, want)
	}
	fails(t, "association dry not found", "association", "describe", "dry")

	ok(t, append(create, "--schedule", "rate(1 day)", "--apply-only-at-cron-interval=false")...)
	t.Cleanup(func() { stead(t, "association", "delete", "dry") })
	out = ok(t, "association", "update", "dry", "--parameters", `{"commands":["echo changed-canary"]}`, "--dry-run")
	require.Contains(t, out, "echo changed-canary")
	require.Contains(t, out, "schedule: rate(1 day), next slot ")
	var st workflows.AssociationState
	require.NoError(t, json.Unmarshal([]byte(ok(t, "association", "describe", "dry", "--output", "json")), &st))
	require.Equal(t, 1, st.Version, "the dry run changed nothing")
	fails(t, "targets name unregistered nodes: ghost", "association", "create", "--name", "dry2", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=ghost", "--parameters", "commands=true", "--dry-run")
}

// --wait reports as it goes: no line before the targets are known, and
// with --output json one JSON object per change and the result as JSON.
func TestWaitProgress(t *testing.T) {
	h := setup(t)
	h.register("prog-1", 89)
	out, errs, code := stead(t, "association", "create", "--name", "progress", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=prog-1", "--parameters", "commands=echo hi", "--wait", "--output", "json")
	require.Equal(t, 0, code, errs)
	t.Cleanup(func() { stead(t, "association", "delete", "progress") })
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	var last struct {
		ExecutionID string `json:"executionId"`
		Done        bool   `json:"done"`
		Status      string `json:"status"`
	}
	for _, l := range lines {
		require.NoError(t, json.Unmarshal([]byte(l), &last), l)
	}
	require.True(t, last.Done)
	require.Equal(t, contract.StatusSuccess, last.Status)
	outLines := strings.Split(strings.TrimSpace(out), "\n")
	var res struct {
		ExecutionID string                   `json:"executionId"`
		Targets     []contract.TargetSummary `json:"targets"`
	}
	require.NoError(t, json.Unmarshal([]byte(outLines[len(outLines)-1]), &res))
	require.Equal(t, last.ExecutionID, res.ExecutionID)
	require.Equal(t, "prog-1", res.Targets[0].NodeID)

	_, errs, code = stead(t, "association", "start", "progress", "--wait")
	require.Equal(t, 0, code, errs)
	require.NotContains(t, errs, " 0/0 done", "no count before the targets are resolved")
	require.Equal(t, 1, strings.Count(errs, "1/1 done (1 succeeded, 0 failed)"), "each line once: %s", errs)
}

// What the console prints about a run and a node says each thing once, in
// Stead's words: a step refused where it runs is named once, without
// Temporal's error wrapping; the step it stops shows as Skipped in the
// targets table, not only in JSON; a node without port or tags shows '-'.
func TestConsoleSaysEachThingOnce(t *testing.T) {
	setup(t)
	ok(t, "node", "register", "--id", "msg-local", "--transport", "local")
	t.Cleanup(func() { stead(t, "node", "deregister", "msg-local") })
	described := ok(t, "node", "describe", "msg-local")
	require.Regexp(t, `(?m)^Port:\s+-$`, described)
	require.Regexp(t, `(?m)^Tags:\s+-$`, described)
	require.NotContains(t, described, "null")

	f := filepath.Join(t.TempDir(), "refused.yaml")
	doc := "schemaVersion: '2.2'\ndescription: a step refused where it runs, and one after it\nmainSteps:\n" +
		"  - action: aws:downloadContent\n    name: Act\n    inputs:\n      sourceType: GitHub\n" +
		"      sourceInfo: '{\"owner\": \"o\", \"repository\": \"r\", \"path\": \"p\"}'\n      destinationPath: /tmp/stead-never\n" +
		"  - action: aws:runShellScript\n    name: After\n    inputs:\n      runCommand: ['echo never']\n"
	require.NoError(t, os.WriteFile(f, []byte(doc), 0o600))
	ok(t, "document", "create", "--name", "msg-refused", "--file", f)
	t.Cleanup(func() { stead(t, "document", "delete", "msg-refused") })
	out, errs, code := stead(t, "association", "create", "--name", "msg-refused", "--document", "msg-refused",
		"--targets", "Key=InstanceIds,Values=msg-local", "--wait")
	require.Equal(t, 1, code, out+errs)
	t.Cleanup(func() { stead(t, "association", "delete", "msg-refused") })
	id := execID(t, out)
	outs := targetsJSON(t, "msg-refused", id)
	require.Len(t, outs, 1)
	detail := outs[0].DetailedStatus
	require.Contains(t, detail, "step Act: sourceType GitHub is not supported")
	require.Equal(t, 1, strings.Count(detail, "step Act"), detail)
	for _, shown := range []string{detail, out, errs} {
		require.NotContains(t, shown, "(type:")
		require.NotContains(t, shown, "retryable")
	}
	table := ok(t, "association", "targets", "msg-refused", "--execution", id)
	require.Contains(t, table, "--- msg-local / After: Skipped")
}
