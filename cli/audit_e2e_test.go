package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/events"
	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/workflows"
)

// auditDoc takes a secret parameter, which no audit record may show.
const auditDoc = `{
  "schemaVersion": "2.2",
  "description": "greets, with a token",
  "parameters": {
    "greeting": {"type": "String", "default": "hi"},
    "token": {"type": "String", "secret": true, "default": "none"}
  },
  "mainSteps": [{"action": "aws:runShellScript", "name": "greet",
    "inputs": {"runCommand": ["echo {{ greeting }}"]}}]
}`

// Changes made through the CLI and through the raw SDK are in the audit
// log: who made each, from where, what, with the secret parameter
// redacted, and the result; the live chain verifies, an export verifies,
// and an edited record in an export is named. The changes' lifecycle
// events reach the worker's event file.
func TestAuditTrail(t *testing.T) {
	sshd := testsshd.Start(t)
	h := &harness{t: t, sshd: sshd, tag: "audit-trail"}
	dir := t.TempDir()
	eventFile := filepath.Join(dir, "events.jsonl")
	stop := startWorkerCommand(t, sshd, "--output-dir", dir, "--event-file", eventFile, "--events-dir", filepath.Join(dir, "events"))
	defer stop()
	const secret = "s3cret-token-value"

	docFile := filepath.Join(dir, "doc.json")
	require.NoError(t, os.WriteFile(docFile, []byte(auditDoc), 0o600))
	ok(t, "document", "create", "--name", "audit-doc", "--file", docFile)
	require.NoError(t, os.WriteFile(docFile, []byte(strings.Replace(auditDoc, "greets,", "greets again,", 1)), 0o600))
	ok(t, "document", "update", "--name", "audit-doc", "--file", docFile)
	h.register("audit-1", 91)
	ok(t, "association", "create", "--name", "audit-assoc", "--document", "audit-doc",
		"--targets", "Key=tag:role,Values=audit-trail", "--parameters", `{"greeting":["hello"],"token":["`+secret+`"]}`, "--wait")
	ok(t, "association", "update", "audit-assoc", "--document", "audit-doc",
		"--targets", "Key=tag:role,Values=audit-trail", "--parameters", `{"greeting":["hello again"],"token":["`+secret+`"]}`, "--wait")
	ok(t, "association", "stop", "audit-assoc")
	ok(t, "association", "resume", "audit-assoc")
	ok(t, "association", "delete", "audit-assoc")
	ok(t, "node", "deregister", "audit-1")

	// Through the raw SDK: a change that names nobody, and an association
	// whose workflow refuses its spec.
	c := dialTest(t)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h2, err := c.UpdateWorkflow(ctx, sdkclient.UpdateWorkflowOptions{WorkflowID: contract.DocumentWorkflowID("audit-doc"), UpdateName: contract.DocumentUpdateSetDefault,
		Args: []any{workflows.SetDefaultRequest{Version: 2}}, WaitForStage: sdkclient.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h2.Get(ctx, nil))
	run, err := c.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{ID: contract.AssociationWorkflowID("audit-bad"), TaskQueue: contract.TaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}, contract.AssociationWorkflow,
		workflows.CreateAssociationInput{Spec: workflows.AssociationSpec{Name: "audit-bad"}, By: "script@ci"}, (*workflows.AssociationState)(nil))
	require.NoError(t, err)
	require.Error(t, run.Get(ctx, nil))

	me, err := user.Current()
	require.NoError(t, err)
	host, err := os.Hostname()
	require.NoError(t, err)
	list := func(args ...string) []contract.AuditRecord {
		var out []contract.AuditRecord
		require.NoError(t, json.Unmarshal([]byte(ok(t, append([]string{"audit", "list", "--output", "json"}, args...)...)), &out))
		return out
	}
	ops := func(rs []contract.AuditRecord) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.EventName)
		}
		return out
	}

	assoc := list("--resource", "association/audit-assoc", "--since", "1h")
	require.Equal(t, []string{contract.OpCreateAssociation, contract.OpUpdateAssociation, contract.OpStopAssociation,
		contract.OpResumeAssociation, contract.OpDeleteAssociation}, ops(assoc))
	for _, r := range assoc {
		require.Equal(t, contract.IdentityUser, r.UserIdentity.Type)
		require.Equal(t, me.Username, r.UserIdentity.UserName)
		require.Equal(t, host, r.SourceHost)
		require.Empty(t, r.ErrorCode, r.EventName)
		require.WithinDuration(t, time.Now(), r.EventTime, 10*time.Minute)
		var req struct {
			Document   string         `json:"document"`
			Parameters map[string]any `json:"parameters"`
		}
		require.NoError(t, json.Unmarshal(r.Request, &req), string(r.Request))
		require.Equal(t, "audit-doc", req.Document)
		require.Equal(t, "***", req.Parameters["token"], "the secret parameter is redacted")
		require.NotEqual(t, "***", req.Parameters["greeting"])
	}
	require.Contains(t, string(assoc[1].Request), "hello again")

	require.Equal(t, []string{contract.OpCreateDocument, contract.OpUpdateDocument, contract.OpSetDefaultDocument},
		ops(list("--resource", "document/audit-doc")))
	raw := list("--resource", "document/audit-doc")[2]
	require.Equal(t, contract.IdentityNone, raw.UserIdentity.Type, "a request without identity says so")
	require.Equal(t, []string{contract.OpRegisterNode, contract.OpDeregisterNode}, ops(list("--resource", "node/audit-1")))
	bad := list("--resource", "association/audit-bad")
	require.Len(t, bad, 1)
	require.Equal(t, contract.FailureInvalid, bad[0].ErrorCode)
	require.Contains(t, bad[0].ErrorMessage, "document")
	require.Equal(t, "script", bad[0].UserIdentity.UserName)
	require.Equal(t, "ci", bad[0].SourceHost)

	table := ok(t, "audit", "list", "--resource", "document/audit-doc")
	require.Contains(t, table, "(no identity in the request)")
	require.Contains(t, table, contract.OpSetDefaultDocument)
	require.Contains(t, ok(t, "audit", "list", "--resource", "association"), "Invalid: ")
	fails(t, `resource "box/x"`, "audit", "list", "--resource", "box/x")
	fails(t, `since "yesterday"`, "audit", "list", "--since", "yesterday")

	// The chain verifies live and exported; nothing shows the secret.
	require.Contains(t, ok(t, "audit", "verify"), "chain intact")
	export := ok(t, "audit", "export")
	require.NotContains(t, export, secret)
	require.NotContains(t, ok(t, "audit", "list", "--output", "json"), secret)
	file := filepath.Join(dir, "audit.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(export), 0o600))
	require.Contains(t, ok(t, "audit", "verify", "--file", file), "chain intact")

	// An edit to one record is named: its position and sequence number.
	lines := strings.Split(strings.TrimSpace(export), "\n")
	k := len(lines) - 3
	var edited contract.AuditRecord
	require.NoError(t, json.Unmarshal([]byte(lines[k]), &edited))
	lines[k] = strings.Replace(lines[k], `"userName":"`+edited.UserIdentity.UserName+`"`, `"userName":"someone-else"`, 1)
	require.NotEqual(t, export, strings.Join(lines, "\n"))
	tampered := filepath.Join(dir, "tampered.jsonl")
	require.NoError(t, os.WriteFile(tampered, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	fails(t, "audit record "+itoa(k+1)+" (sequence "+itoa(int(edited.Sequence))+", event "+edited.EventID+"): its content does not match its hash",
		"audit", "verify", "--file", tampered)
	// A removed record breaks the chain at the one after it.
	removed := filepath.Join(dir, "removed.jsonl")
	require.NoError(t, os.WriteFile(removed, []byte(strings.Join(append(append([]string{}, lines[:k]...), lines[k+1:]...), "\n")), 0o600))
	fails(t, "a record is missing or was inserted", "audit", "verify", "--file", removed)

	// The lifecycle events of the association and the node reached the
	// event file.
	var lifecycle []string
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(eventFile)
		lifecycle = nil
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var e events.Event
			if json.Unmarshal(line, &e) != nil {
				continue
			}
			if e.DetailType == events.DetailAssociation && e.Detail.AssociationName == "audit-assoc" && e.Detail.ExecutionID == "" ||
				e.DetailType == events.DetailNode && e.Detail.NodeID == "audit-1" {
				lifecycle = append(lifecycle, e.DetailType+" "+e.Detail.Status)
			}
		}
		return len(lifecycle) >= 5
	}, 30*time.Second, 200*time.Millisecond)
	require.ElementsMatch(t, []string{
		events.DetailNode + " Registered", events.DetailNode + " Deregistered",
		events.DetailAssociation + " Created", events.DetailAssociation + " Updated", events.DetailAssociation + " Deleted",
	}, lifecycle)
}

func itoa(n int) string { return strconv.Itoa(n) }
