package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/problems"
	"github.com/stead-io/stead/workflows"
)

// cliError runs the CLI, requires it to fail, and returns its one-line
// message without the "stead: " prefix.
func cliError(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := stead(t, args...)
	require.Equal(t, 1, code, "stead %v should fail\nstdout: %s\nstderr: %s", args, out, errs)
	require.Equal(t, 1, strings.Count(errs, "\n"), errs)
	return strings.TrimSuffix(strings.TrimPrefix(errs, "stead: "), "\n")
}

// refusal requires err to be a workflow's refusal of invalid input and
// returns its message.
func refusal(t *testing.T, err error) string {
	t.Helper()
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, contract.FailureInvalid, app.Type())
	var p problems.Error
	require.NoError(t, app.Details(&p))
	require.Equal(t, app.Message(), p.Error(), "the details list the problems of the message")
	return app.Message()
}

// An association workflow started by any SDK client with input the CLI
// refuses fails at once, with the message the CLI prints for that input:
// the checks live in the workflow, not only in the CLI. The spec is sent
// as raw JSON, as another language's SDK would send it, with values (a
// rate control as "abc") no Go struct of Stead would hold.
func TestWorkflowsRefuseWhatTheCLIRefuses(t *testing.T) {
	h := setup(t)
	h.register("val-1", 80)
	c := dialTest(t)
	spec := func(name string, change map[string]any) map[string]any {
		s := map[string]any{
			"name": name, "document": "Stead-RunShellScript", "parameters": map[string]any{"commands": "true"},
			"targets":        []map[string]any{{"key": "InstanceIds", "values": []string{"val-1"}}},
			"maxConcurrency": map[string]any{"n": 50, "percent": false}, "maxErrors": map[string]any{"n": 0, "percent": false},
		}
		for k, v := range change {
			s[k] = v
		}
		return s
	}
	base := []string{"association", "create", "--document", "Stead-RunShellScript", "--targets", "Key=InstanceIds,Values=val-1", "--parameters", "commands=true"}
	cases := []struct {
		name   string
		flags  []string
		change map[string]any
		want   string
	}{
		{"bad schedule", []string{"--schedule", "cron(0 25 * * ? *)"}, map[string]any{"schedule": "cron(0 25 * * ? *)"},
			"cron(0 25 * * ? *): hours: 25 is out of range 0-23"},
		{"unknown document", []string{"--document", "Nope"}, map[string]any{"document": "Nope"},
			"document Nope not found (built-in documents: Stead-ConfigureNetwork, Stead-DownloadContent, Stead-GatherInventory, Stead-InstallPackages, Stead-JoinDomain, Stead-RunDocument, Stead-RunPatchBaseline, Stead-RunPowerShellScript, Stead-RunShellScript, Stead-UpdateSoftware; `stead document list` shows registered ones)"},
		{"max errors abc", []string{"--max-errors", "abc"}, map[string]any{"maxErrors": "abc"},
			`max-errors "abc": want a whole number or a percentage like 10%`},
		{"everything at once", []string{"--schedule", "rate(5 minutes)", "--max-concurrency", "0", "--compliance-severity", "dire"},
			map[string]any{"schedule": "rate(5 minutes)", "maxConcurrency": "0", "complianceSeverity": "dire"},
			`rate(5 minutes): more frequent than the minimum of 30 minutes for associations; max-concurrency "0": want a number from 1 to 1000000; compliance-severity "dire": want one of CRITICAL, HIGH, MEDIUM, LOW, UNSPECIFIED`},
	}
	for i, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			name := "refused-" + string(rune('a'+i))
			fromCLI := cliError(t, append(append(append([]string{}, base...), "--name", name), tt.flags...)...)
			require.Equal(t, tt.want, fromCLI)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: contract.AssociationWorkflowID(name), TaskQueue: contract.TaskQueue},
				contract.AssociationWorkflow, map[string]any{"spec": spec(name, tt.change), "by": "sdk@test", "executionId": uuid.NewString()}, nil)
			require.NoError(t, err)
			require.Equal(t, fromCLI, refusal(t, run.Get(ctx, nil)))
			// It failed before it started anything.
			resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
				Query: fmt.Sprintf("WorkflowType = '%s' AND %s = '%s'", contract.ExecutionWorkflow, contract.AttrAssociation.GetName(), name)})
			require.NoError(t, err)
			require.Zero(t, resp.GetCount())
		})
	}

	// An update sent by an SDK client is refused as `association update` is.
	ok(t, append(base, "--name", "refused-update")...)
	t.Cleanup(func() { stead(t, "association", "delete", "refused-update") })
	fromCLI := cliError(t, "association", "update", "refused-update", "--max-errors", "abc", "--schedule", "every day")
	require.Equal(t, `schedule "every day": want cron(...), rate(...) or at(...); max-errors "abc": want a whole number or a percentage like 10%`, fromCLI)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h2, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: contract.AssociationWorkflowID("refused-update"), UpdateName: contract.AssociationUpdateUpdate,
		WaitForStage: client.WorkflowUpdateStageCompleted,
		Args:         []any{map[string]any{"spec": spec("refused-update", map[string]any{"maxErrors": "abc", "schedule": "every day"}), "by": "sdk@test"}},
	})
	if err == nil {
		err = h2.Get(ctx, nil)
	}
	require.Equal(t, fromCLI, refusal(t, err))
	var st workflows.AssociationState
	require.NoError(t, json.Unmarshal([]byte(ok(t, "association", "describe", "refused-update", "--output", "json")), &st))
	require.Equal(t, 1, st.Version, "nothing changed")
}
