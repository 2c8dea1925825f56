package workflows

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
)

func flowStep(name string, mutate ...func(*documents.PlanStep)) documents.PlanStep {
	s := documents.PlanStep{Name: name, Action: documents.ActionRunShellScript, Shell: "sh", Script: "x", TimeoutSeconds: 60, MaxAttempts: 1}
	for _, m := range mutate {
		m(&s)
	}
	return s
}

func TestTargetStepFlow(t *testing.T) {
	onFailure := func(v string) func(*documents.PlanStep) { return func(s *documents.PlanStep) { s.OnFailure = v } }
	finally := func(s *documents.PlanStep) { s.FinallyStep = true }
	tests := []struct {
		name     string
		steps    []documents.PlanStep
		exits    map[string][]int // exit code of each run of a step, in order
		platform string
		status   string
		steps2   string // step name=status/exit, in order
		runIDs   []string
	}{
		{"failure exits", []documents.PlanStep{flowStep("a"), flowStep("b")}, map[string][]int{"a": {2}}, "linux", contract.StatusFailed,
			"a=Failed/2 b=Skipped/0", []string{"e1-n1-0"}},
		{"continue", []documents.PlanStep{flowStep("a", onFailure("continue")), flowStep("b")}, map[string][]int{"a": {2}}, "linux", contract.StatusFailed,
			"a=Failed/2 b=Success/0", []string{"e1-n1-0", "e1-n1-1"}},
		{"successAndExit", []documents.PlanStep{flowStep("a", onFailure("successAndExit")), flowStep("b")}, map[string][]int{"a": {2}}, "linux", contract.StatusSuccess,
			"a=Failed/2 b=Skipped/0", []string{"e1-n1-0"}},
		{"onSuccess exit", []documents.PlanStep{flowStep("a", func(s *documents.PlanStep) { s.OnSuccess = "exit" }), flowStep("b")}, nil, "linux", contract.StatusSuccess,
			"a=Success/0 b=Skipped/0", []string{"e1-n1-0"}},
		{"finally runs after exit", []documents.PlanStep{flowStep("a"), flowStep("b"), flowStep("c", finally)}, map[string][]int{"a": {1}}, "linux", contract.StatusFailed,
			"a=Failed/1 b=Skipped/0 c=Success/0", []string{"e1-n1-0", "e1-n1-2"}},
		{"168 stops as success", []documents.PlanStep{flowStep("a"), flowStep("b")}, map[string][]int{"a": {168}}, "linux", contract.StatusSuccess,
			"a=Success/168 b=Skipped/0", []string{"e1-n1-0"}},
		{"169 stops as failed, no retry", []documents.PlanStep{flowStep("a", func(s *documents.PlanStep) { s.MaxAttempts = 3 }), flowStep("b")}, map[string][]int{"a": {169}}, "linux", contract.StatusFailed,
			"a=Failed/169 b=Skipped/0", []string{"e1-n1-0"}},
		{"attempts until success", []documents.PlanStep{flowStep("a", func(s *documents.PlanStep) { s.MaxAttempts = 3 })}, map[string][]int{"a": {1, 1, 0}}, "linux", contract.StatusSuccess,
			"a=Success/0", []string{"e1-n1-0", "e1-n1-0-a2", "e1-n1-0-a3"}},
		{"attempts exhausted", []documents.PlanStep{flowStep("a", func(s *documents.PlanStep) { s.MaxAttempts = 2 })}, map[string][]int{"a": {4, 5}}, "linux", contract.StatusFailed,
			"a=Failed/5", []string{"e1-n1-0", "e1-n1-0-a2"}},
		{"reboot on linux", []documents.PlanStep{flowStep("a"), flowStep("b")}, map[string][]int{"a": {194}}, "linux", contract.StatusSuccess,
			"a=Success/194 b=Success/0", []string{"e1-n1-0", "e1-n1-1"}},
		{"reboot never back", []documents.PlanStep{flowStep("a"), flowStep("b")}, map[string][]int{"a": {194}}, "linux", contract.StatusTimedOut,
			"a=TimedOut/194 b=Skipped/0", []string{"e1-n1-0"}},
		{"3010 is a failure on linux", []documents.PlanStep{flowStep("a")}, map[string][]int{"a": {3010}}, "linux", contract.StatusFailed,
			"a=Failed/3010", []string{"e1-n1-0"}},
		{"reboot on windows", []documents.PlanStep{flowStep("a")}, map[string][]int{"a": {3010}}, "windows", contract.StatusSuccess,
			"a=Success/3010", []string{"e1-n1-0"}},
		{"refused step", []documents.PlanStep{flowStep("a", func(s *documents.PlanStep) { s.Refused = "sourceType GitHub is not supported" }), flowStep("b")}, nil, "linux", contract.StatusFailed,
			"a=Failed/-1 b=Skipped/0", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var runIDs []string
			runs := map[string]int{}
			env.OnActivity(acts.RunStep, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RunStepInput) (activities.StepResult, error) {
				runIDs = append(runIDs, in.RunID)
				codes := tt.exits[in.Step.Name]
				code := 0
				if n := runs[in.Step.Name]; n < len(codes) {
					code = codes[n]
				}
				runs[in.Step.Name]++
				return activities.StepResult{Step: in.Step.Name, ExitCode: code}, nil
			}).Maybe()
			var rebooted []string
			env.OnActivity(acts.RebootNode, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RebootInput) (activities.RebootResult, error) {
				rebooted = append(rebooted, in.RunID)
				return activities.RebootResult{BootID: "boot-1", TimeoutSeconds: 60}, nil
			}).Maybe()
			env.OnActivity(acts.AwaitBoot, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AwaitBootInput) (string, error) {
				if in.BootID != "boot-1" {
					return "", errors.New("wrong boot id")
				}
				if tt.name == "reboot never back" {
					return "", temporal.NewNonRetryableApplicationError("not back", activities.ErrRebootTimedOut, nil)
				}
				return "boot-2", nil
			}).Maybe()
			env.ExecuteWorkflow(TargetWorkflow, TargetInput{AssociationName: "web", ExecutionID: "e1",
				Node: activities.TargetRef{NodeID: "n1", Platform: tt.platform}, Plan: *testPlan(tt.steps...)})
			require.NoError(t, env.GetWorkflowError())
			var sum TargetSummary
			require.NoError(t, env.GetWorkflowResult(&sum))
			require.Equal(t, tt.status, sum.Status, sum.DetailedStatus)
			var got []string
			for _, s := range sum.Steps {
				got = append(got, s.Name+"="+s.Status+"/"+itoa(s.ExitCode))
			}
			require.Equal(t, tt.steps2, join(got))
			require.Equal(t, tt.runIDs, runIDs)
			if strings.HasPrefix(tt.name, "reboot") {
				require.Equal(t, []string{"e1-n1-0"}, rebooted, "the node reboots once, after the step that asked")
			}
			if tt.name == "reboot on linux" {
				require.Equal(t, "rebooted (exit code 194): boot id boot-1, then boot-2", sum.Steps[0].DetailedStatus)
			}
			if tt.name == "reboot never back" {
				require.Contains(t, sum.DetailedStatus, "the node was not back within 1m0s")
			}
			if tt.name == "refused step" {
				require.Equal(t, "step a: sourceType GitHub is not supported", sum.DetailedStatus)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func join(s []string) string { return strings.Join(s, " ") }

// TestTargetLocalDocument checks that an aws:runDocument LocalPath step is replaced, when
// reached, by the steps its file renders into, and that a file that cannot run fails the
// step alone, with onFailure deciding what follows.
func TestTargetLocalDocument(t *testing.T) {
	local := func(name, path, onFailure string) documents.PlanStep {
		return documents.PlanStep{Name: name, Action: documents.ActionRunDocument, MaxAttempts: 1, TimeoutSeconds: 3600, OnFailure: onFailure,
			LocalDocument: &documents.LocalDocument{Path: path, Parameters: `{}`, Chain: []string{"top"}}}
	}
	tests := []struct {
		name   string
		steps  []documents.PlanStep
		status string
		want   string
		runIDs []string
		detail string
	}{
		{"expanded in place", []documents.PlanStep{flowStep("fetch"), local("run", "doc.json", ""), flowStep("after")}, contract.StatusSuccess,
			"fetch=Success/0 run.one=Success/0 run.two=Success/0 after=Success/0",
			[]string{"e1-n1-0", "e1-n1-1.0", "e1-n1-1.1", "e1-n1-2"}, ""},
		{"missing file fails the step", []documents.PlanStep{flowStep("fetch"), local("run", "gone.json", ""), flowStep("after")}, contract.StatusFailed,
			"fetch=Success/0 run=Failed/-1 after=Skipped/0",
			[]string{"e1-n1-0"}, "step run: documentPath gone.json (relative to the login's home): no such file on node n1"},
		{"missing file with continue", []documents.PlanStep{local("run", "gone.json", "continue"), flowStep("after")}, contract.StatusFailed,
			"run=Failed/-1 after=Success/0",
			[]string{"e1-n1-1"}, "step run: documentPath gone.json (relative to the login's home): no such file on node n1 (onFailure continue: later steps ran)"},
		{"finally local document", []documents.PlanStep{flowStep("fail"), flowStep("skipped"), func() documents.PlanStep {
			s := local("run", "doc.json", "")
			s.FinallyStep = true
			return s
		}()}, contract.StatusFailed,
			"fail=Failed/1 skipped=Skipped/0 run.one=Success/0 run.two=Success/0",
			[]string{"e1-n1-0", "e1-n1-2.0", "e1-n1-2.1"}, "step fail: exit code 1"},
		{"nested local document", []documents.PlanStep{local("run", "outer.json", "")}, contract.StatusSuccess,
			"run.inner.one=Success/0 run.inner.two=Success/0",
			[]string{"e1-n1-0.0.0", "e1-n1-0.0.1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var runIDs []string
			env.OnActivity(acts.RunStep, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RunStepInput) (activities.StepResult, error) {
				runIDs = append(runIDs, in.RunID)
				if in.Step.Name == "fail" {
					return activities.StepResult{Step: in.Step.Name, ExitCode: 1}, nil
				}
				return activities.StepResult{Step: in.Step.Name}, nil
			}).Maybe()
			env.OnActivity(acts.LoadLocalDocument, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.LoadLocalDocumentInput) (activities.LocalDocumentResult, error) {
				parent := in.Step.Name
				switch in.Step.LocalDocument.Path {
				case "doc.json":
					finally := func(s *documents.PlanStep) { s.FinallyStep = in.Step.FinallyStep }
					return activities.LocalDocumentResult{Path: "doc.json", Steps: []documents.PlanStep{flowStep(parent+".one", finally), flowStep(parent+".two", finally)}}, nil
				case "outer.json":
					inner := local(parent+".inner", "doc.json", "")
					inner.LocalDocument.Chain = []string{"top", "LocalPath:outer.json"}
					return activities.LocalDocumentResult{Path: "outer.json", Steps: []documents.PlanStep{inner}}, nil
				}
				return activities.LocalDocumentResult{}, temporal.NewNonRetryableApplicationError(
					"documentPath "+in.Step.LocalDocument.Path+" (relative to the login's home): no such file on node "+in.NodeID, activities.ErrLocalDocument, nil)
			}).Maybe()
			env.ExecuteWorkflow(TargetWorkflow, TargetInput{AssociationName: "web", ExecutionID: "e1",
				Node: activities.TargetRef{NodeID: "n1", Platform: "linux"}, Plan: *testPlan(tt.steps...)})
			require.NoError(t, env.GetWorkflowError())
			var sum TargetSummary
			require.NoError(t, env.GetWorkflowResult(&sum))
			require.Equal(t, tt.status, sum.Status, sum.DetailedStatus)
			var got []string
			for _, s := range sum.Steps {
				got = append(got, s.Name+"="+s.Status+"/"+itoa(s.ExitCode))
			}
			require.Equal(t, tt.want, join(got))
			require.Equal(t, tt.runIDs, runIDs)
			if tt.detail != "" {
				require.Equal(t, tt.detail, sum.DetailedStatus)
			}
		})
	}
}
