package histories_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/ratecontrol"
	"github.com/stead-io/stead/internal/schedule"
	"github.com/stead-io/stead/internal/targets"
	"github.com/stead-io/stead/workflows"
)

// by is who the recorder's changes are by.
const by = "recorder"

// fleet is an association's life over a fleet of SSH and local nodes: its
// create run, a run for a node that joins (node-matched), one for a new
// default document version (document-changed), a manual start, an update
// that changes its parameters, and its deletion; a node registered,
// retagged, reported on (compliance) and deregistered; a document created,
// updated, given a new default and deleted.
func fleet(t *testing.T, s *stead) map[fixture]source {
	const name = "recorder-fleet"
	tags := map[string]string{"role": "fleet"}
	s.register(t, s.sshNode("fleet-ssh-1", 21, tags))
	s.register(t, s.sshNode("fleet-ssh-2", 22, tags))
	s.register(t, localNode("fleet-local", tags))
	s.createDocument(t, name, greeting(1))
	s.updateDocument(t, name, greeting(2)) // $LATEST moves on; the default stays 1

	spec := workflows.AssociationSpec{
		Name: name, Document: name, Parameters: map[string]any{"message": "hello"},
		Targets: parseTargets(t, "Key=tag:role,Values=fleet"), Schedule: parseSchedule(t, "rate(1 day)"),
		MaxConcurrency: parseRate(t, "2", 1), MaxErrors: parseRate(t, "0", 0), ComplianceSeverity: "HIGH",
	}
	first := s.createAssociation(t, spec)
	s.waitRuns(t, name, 1)
	s.register(t, s.sshNode("fleet-ssh-3", 23, tags))
	newNode := s.waitRuns(t, name, 2).Executions[1].ExecutionID
	s.update(t, contract.DocumentWorkflowID(name), contract.DocumentUpdateSetDefault, workflows.SetDefaultRequest{Version: 2, By: by}, nil)
	s.waitRuns(t, name, 3)
	s.update(t, contract.AssociationWorkflowID(name), contract.AssociationUpdateStart, workflows.StartRequest{By: by}, nil)
	s.waitRuns(t, name, 4)
	spec.Parameters = map[string]any{"message": "hello again"}
	s.update(t, contract.AssociationWorkflowID(name), contract.AssociationUpdateUpdate, workflows.UpdateRequest{Spec: spec, ExpectedVersion: 1, By: by}, nil)
	st := s.waitRuns(t, name, 5)
	var reasons []string
	for _, e := range st.Executions {
		reasons = append(reasons, e.Reason+"="+e.Status+fmt.Sprint(e.Counts.Total))
	}
	require.Equal(t, []string{"Create=Success3", "NewNode=Success1", "DocumentChange=Success4", "Manual=Success4", "Update=Success4"}, reasons)

	s.register(t, s.sshNode("fleet-ssh-1", 21, map[string]string{"role": "fleet", "env": "prod"}))
	var nodeState workflows.NodeState
	s.update(t, contract.NodeWorkflowID("fleet-ssh-1"), contract.NodeUpdateDeregister, workflows.DeregisterNodeRequest{By: by}, &nodeState)
	require.Equal(t, 2, nodeState.Revision)
	require.Len(t, nodeState.Compliance, 1, "the association's runs reported on the node")
	s.update(t, contract.AssociationWorkflowID(name), contract.AssociationUpdateDelete, workflows.DeleteRequest{By: by}, nil)
	s.update(t, contract.DocumentWorkflowID(name), contract.DocumentUpdateDelete, workflows.DeleteDocumentRequest{By: by}, nil)

	exec := contract.ExecutionWorkflowID(name, first)
	return map[fixture]source{
		{contract.NodeWorkflow, "lifecycle"}:          {workflowID: contract.NodeWorkflowID("fleet-ssh-1")},
		{contract.DocumentWorkflow, "lifecycle"}:      {workflowID: contract.DocumentWorkflowID(name)},
		{contract.AssociationWorkflow, "lifecycle"}:   {workflowID: contract.AssociationWorkflowID(name)},
		{contract.ExecutionWorkflow, "ssh-and-local"}: {workflowID: exec},
		{contract.ExecutionWorkflow, "new-node"}:      {workflowID: contract.ExecutionWorkflowID(name, newNode)},
	}
}

// greeting is a version of a small document: each version says hello its
// own way.
func greeting(version int) string {
	return fmt.Sprintf(`schemaVersion: '2.2'
description: Greet from every node (version %d).
parameters:
  message: {type: String, default: hello}
mainSteps:
  - action: aws:runShellScript
    name: greet
    inputs:
      runCommand:
        - echo "{{ message }} from $(hostname), version %d"
        - echo "reached over ${SSH_CONNECTION:-the local transport}"
`, version, version)
}

// stepFlowDocument takes every turn a document can on one node: a step that
// fails once and passes on its second attempt, one for another platform,
// one whose failure the document tolerates, one that reboots the node, a
// document file on the node run in place of a step, an exit code that ends
// the document, a step that therefore never runs, and a finally step.
const stepFlowDocument = `schemaVersion: '2.2'
description: Every turn a document can take.
parameters:
  dir: {type: String}
mainSteps:
  - action: aws:runShellScript
    name: retried
    maxAttempts: 2
    inputs:
      runCommand:
        - if [ -f "{{ dir }}/tried" ]; then echo second attempt; exit 0; fi
        - touch "{{ dir }}/tried"; echo first attempt fails >&2; exit 3
  - action: aws:runPowerShellScript
    name: windows-only
    precondition: {StringEquals: [platformType, Windows]}
    inputs: {runCommand: [Get-Date]}
  - action: aws:runShellScript
    name: tolerated
    onFailure: continue
    inputs: {runCommand: [exit 4]}
  - action: aws:runShellScript
    name: reboot
    inputs: {runCommand: ["echo asking for a reboot", "exit 194"]}
  - action: aws:runDocument
    name: nested
    inputs: {documentType: LocalPath, documentPath: "{{ dir }}/inner.yaml"}
  - action: aws:runShellScript
    name: stop-here
    inputs: {runCommand: ["echo done early", "exit 168"]}
  - action: aws:runShellScript
    name: never
    inputs: {runCommand: ["echo never runs"]}
  - action: aws:runShellScript
    name: cleanup
    finallyStep: true
    inputs: {runCommand: ["rm -f '{{ dir }}/tried'"]}
`

// innerDocument is the document file the step-flow document runs from the node.
const innerDocument = `schemaVersion: '2.2'
mainSteps:
  - action: aws:runShellScript
    name: inner
    inputs: {runCommand: ["echo the document file on the node ran"]}
`

// stepFlow runs stepFlowDocument on a local node whose reboot changes its
// boot id, then on a node whose host key does not match (Undeliverable),
// which passes MaxErrors, so the last node is never dispatched.
func stepFlow(t *testing.T, s *stead) map[fixture]source {
	const name = "recorder-step-flow"
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "boot-id"), []byte("boot-1\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "inner.yaml"), []byte(innerDocument), 0o644))
	local := localNode("step-flow-a-local", nil)
	local.RebootCommand = "echo boot-2 > " + filepath.Join(dir, "boot-id") // the reboot: a new boot id
	local.BootIDCommand = "cat " + filepath.Join(dir, "boot-id")
	local.RebootTimeoutSeconds = 60
	s.register(t, local)
	mitm := s.sshNode("step-flow-b-mitm", 31, nil)
	mitm.HostKey = wrongHostKey(t)
	s.register(t, mitm)
	s.register(t, s.sshNode("step-flow-c-ssh", 32, nil))
	s.createDocument(t, name, stepFlowDocument)

	first := s.createAssociation(t, workflows.AssociationSpec{
		Name: name, Document: name, Parameters: map[string]any{"dir": dir},
		Targets:        parseTargets(t, "Key=InstanceIds,Values=step-flow-a-local,step-flow-b-mitm,step-flow-c-ssh"),
		MaxConcurrency: parseRate(t, "1", 1), MaxErrors: parseRate(t, "1", 0),
	})
	run := s.waitRuns(t, name, 1).Executions[0]
	require.Equal(t, contract.StatusFailed, run.Status, run.DetailedStatus)
	require.Equal(t, workflows.Counts{Total: 3, Failed: 1, Undeliverable: 1, Skipped: 1}, run.Counts)
	exec := contract.ExecutionWorkflowID(name, first)
	// The local node's steps end with a tolerated failure, so the
	// execution's result lists it among its failures, steps and all.
	var res workflows.ExecutionResult
	err := s.client.GetWorkflow(context.Background(), exec, "").Get(context.Background(), &res)
	require.True(t, workflows.ExecutionResultOf(err, &res), "the failed execution carries its result: %v", err)
	i := slices.IndexFunc(res.Failures, func(f contract.TargetSummary) bool { return f.NodeID == local.ID })
	require.GreaterOrEqual(t, i, 0, "the local node failed")
	sum := res.Failures[i]
	var steps []string
	for _, st := range sum.Steps {
		steps = append(steps, st.Name+"="+st.Status)
	}
	require.Equal(t, "retried=Success windows-only=Skipped tolerated=Failed reboot=Success nested.inner=Success stop-here=Success never=Skipped cleanup=Success",
		strings.Join(steps, " "), sum.DetailedStatus)

	s.update(t, contract.AssociationWorkflowID(name), contract.AssociationUpdateDelete, workflows.DeleteRequest{By: by}, nil)
	s.update(t, contract.DocumentWorkflowID(name), contract.DocumentUpdateDelete, workflows.DeleteDocumentRequest{By: by}, nil)
	return map[fixture]source{
		{contract.ExecutionWorkflow, "max-errors"}: {workflowID: exec},
	}
}

// scheduled is an association that runs only at its cron slots, once a
// minute: its first slot fires, then it is deleted.
func scheduled(t *testing.T, s *stead) map[fixture]source {
	const name = "recorder-schedule"
	s.register(t, localNode("schedule-local", nil))
	s.createAssociation(t, workflows.AssociationSpec{
		Name: name, Document: "Stead-RunShellScript", Parameters: map[string]any{"commands": []any{"date -u"}},
		Targets: parseTargets(t, "Key=InstanceIds,Values=schedule-local"), Schedule: parseSchedule(t, "cron(* * * * ? *)"),
		ApplyOnlyAtCronInterval: true, MaxConcurrency: parseRate(t, "1", 1), MaxErrors: parseRate(t, "0", 0),
	})
	run := s.waitRuns(t, name, 1).Executions[0]
	require.Equal(t, workflows.ReasonSched, run.Reason)
	require.Equal(t, contract.StatusSuccess, run.Status, run.DetailedStatus)
	s.update(t, contract.AssociationWorkflowID(name), contract.AssociationUpdateDelete, workflows.DeleteRequest{By: by}, nil)
	return map[fixture]source{{contract.AssociationWorkflow, "schedule"}: {workflowID: contract.AssociationWorkflowID(name)}}
}

// stopResumeCancel is an association stopped while its execution runs
// (which cancels it), refused a start while stopped, resumed, started by
// hand, that execution cancelled on its own, and deleted.
func stopResumeCancel(t *testing.T, s *stead) map[fixture]source {
	const name = "recorder-pause"
	s.register(t, localNode("pause-local", nil))
	spec := workflows.AssociationSpec{
		Name: name, Document: "Stead-RunShellScript", Parameters: map[string]any{"commands": []any{"sleep 300"}},
		Targets:        parseTargets(t, "Key=InstanceIds,Values=pause-local"),
		MaxConcurrency: parseRate(t, "1", 1), MaxErrors: parseRate(t, "0", 0),
	}
	first := s.createAssociation(t, spec)
	id := contract.AssociationWorkflowID(name)
	s.awaitExecutionRunning(t, name, first)
	var st workflows.AssociationState
	s.update(t, id, contract.AssociationUpdateStop, workflows.PauseRequest{By: by}, &st)
	require.Equal(t, contract.StatusPaused, st.Status)
	h, err := s.client.UpdateWorkflow(context.Background(), updateOptions(id, contract.AssociationUpdateStart, workflows.StartRequest{By: by}))
	if err == nil {
		err = h.Get(context.Background(), nil)
	}
	require.ErrorContains(t, err, "is stopped", "a stopped association refuses a start")
	s.update(t, id, contract.AssociationUpdateResume, workflows.PauseRequest{By: by}, &st)
	var second string
	s.update(t, id, contract.AssociationUpdateStart, workflows.StartRequest{By: by}, &second)
	s.awaitExecutionRunning(t, name, second)
	require.NoError(t, s.client.CancelWorkflow(context.Background(), contract.ExecutionWorkflowID(name, second), ""))
	st = s.waitRuns(t, name, 2)
	for _, e := range st.Executions {
		require.Equal(t, contract.StatusCancelled, e.Status, e.DetailedStatus)
	}
	s.update(t, id, contract.AssociationUpdateDelete, workflows.DeleteRequest{By: by}, nil)
	return map[fixture]source{{contract.AssociationWorkflow, "stop-resume-cancel"}: {workflowID: id}}
}

// awaitExecutionRunning waits until an execution's batch has started.
func (s *stead) awaitExecutionRunning(t *testing.T, name, execID string) {
	require.Eventually(t, func() bool {
		d, err := s.client.DescribeWorkflowExecution(context.Background(), contract.ExecutionWorkflowID(name, execID), "")
		return err == nil && len(d.GetPendingActivities()) > 0 && d.GetPendingActivities()[0].GetActivityType().GetName() == contract.ActivityRunBatch
	}, time.Minute, 100*time.Millisecond, "execution %s runs its batch", execID)
}

// nodeContinuesAsNew reports compliance to a node until its history is
// long enough to continue as new, then deregisters the node from the run
// that carries its state.
func nodeContinuesAsNew(t *testing.T, s *stead) map[fixture]source {
	const id = "can-node"
	s.register(t, localNode(id, map[string]string{"role": "can-node"}))
	wid := contract.NodeWorkflowID(id)
	// At least one report, so there is compliance to carry.
	for i := 0; i == 0 || len(s.runs(t, wid)) < 2; i++ {
		require.Less(t, i, 20, "node %s never continued as new", id)
		require.NoError(t, s.client.SignalWorkflow(context.Background(), wid, "", contract.SignalCompliance, contract.ComplianceRecord{
			Association: fmt.Sprintf("recorder-can-%d", i), Status: contract.Compliant, Severity: "HIGH",
			ExecutionID: newExecutionID(), At: time.Now().UTC(),
		}))
		time.Sleep(500 * time.Millisecond)
	}
	var st workflows.NodeState
	s.update(t, wid, contract.NodeUpdateDeregister, workflows.DeregisterNodeRequest{By: by}, &st)
	require.Equal(t, 1, st.Revision, "the spec carried into the new run")
	require.NotEmpty(t, st.Compliance, "compliance carried into the new run")
	return map[fixture]source{
		{contract.NodeWorkflow, "continued-as-new"}: {workflowID: wid},
		{contract.NodeWorkflow, "carried-state"}:    {workflowID: wid, run: 1},
	}
}

// documentContinuesAsNew adds versions to a document until it continues as
// new, then sets its default and deletes it in the run that carries them.
func documentContinuesAsNew(t *testing.T, s *stead) map[fixture]source {
	const name = "recorder-can-document"
	s.createDocument(t, name, greeting(1))
	wid := contract.DocumentWorkflowID(name)
	// At least three versions, so the new run carries more than the
	// default it is given.
	for v := 2; v <= 3 || len(s.runs(t, wid)) < 2; v++ {
		require.Less(t, v, 20, "document %s never continued as new", name)
		s.updateDocument(t, name, greeting(v))
	}
	var info workflows.DocumentInfo
	s.update(t, wid, contract.DocumentUpdateSetDefault, workflows.SetDefaultRequest{Version: 2, By: by}, &info)
	require.Greater(t, info.LatestVersion, 2, "versions carried into the new run")
	s.update(t, wid, contract.DocumentUpdateDelete, workflows.DeleteDocumentRequest{By: by}, nil)
	return map[fixture]source{
		{contract.DocumentWorkflow, "continued-as-new"}: {workflowID: wid},
		{contract.DocumentWorkflow, "carried-state"}:    {workflowID: wid, run: 1},
	}
}

// associationContinuesAsNew runs an association over four local nodes one
// at a time, in batches of two, so that its execution continues as new half
// way, and starts it again until the association itself continues as new.
func associationContinuesAsNew(t *testing.T, s *stead) map[fixture]source {
	const name = "recorder-can-association"
	for i := 1; i <= 4; i++ {
		s.register(t, localNode(fmt.Sprintf("can-local-%d", i), map[string]string{"role": "can"}))
	}
	first := s.createAssociation(t, workflows.AssociationSpec{
		Name: name, Document: "Stead-RunShellScript", Parameters: map[string]any{"commands": []any{"echo one node at a time"}},
		Targets: parseTargets(t, "Key=tag:role,Values=can"), MaxConcurrency: parseRate(t, "1", 1), MaxErrors: parseRate(t, "0", 0),
	})
	run := s.waitRuns(t, name, 1).Executions[0]
	require.Equal(t, workflows.Counts{Total: 4, Success: 4}, run.Counts)
	exec := contract.ExecutionWorkflowID(name, first)
	require.GreaterOrEqual(t, len(s.runs(t, exec)), 2, "execution %s never continued as new", exec)
	wid := contract.AssociationWorkflowID(name)
	for i := 0; len(s.runs(t, wid)) < 2; i++ {
		require.Less(t, i, 5, "association %s never continued as new", name)
		s.update(t, wid, contract.AssociationUpdateStart, workflows.StartRequest{By: by}, nil)
		s.waitRuns(t, name, i+2)
	}
	var st workflows.AssociationState
	s.update(t, wid, contract.AssociationUpdateDelete, workflows.DeleteRequest{By: by}, &st)
	require.Equal(t, workflows.ReasonCreate, st.Executions[0].Reason, "executions carried into the new run")
	return map[fixture]source{
		{contract.AssociationWorkflow, "continued-as-new"}: {workflowID: wid},
		{contract.AssociationWorkflow, "carried-state"}:    {workflowID: wid, run: 1},
		{contract.ExecutionWorkflow, "continued-as-new"}:   {workflowID: exec},
		{contract.ExecutionWorkflow, "carried-state"}:      {workflowID: exec, run: 1},
	}
}

// auditLog waits until the changes of the other scenarios have sealed a
// segment of the audit log and its head has continued as new.
func auditLog(t *testing.T, s *stead) map[fixture]source {
	require.Eventually(t, func() bool {
		_, err := s.client.DescribeWorkflowExecution(context.Background(), contract.AuditSegmentWorkflowID(1), "")
		return err == nil && len(s.runs(t, contract.AuditWorkflowID)) >= 2
	}, 3*time.Minute, time.Second, "the audit log never sealed a segment and continued as new")
	return map[fixture]source{
		{contract.AuditWorkflow, "continued-as-new"}: {workflowID: contract.AuditWorkflowID},
		{contract.AuditSegmentWorkflow, "sealed"}:    {workflowID: contract.AuditSegmentWorkflowID(1), open: true},
	}
}

// sshNode is a node on the test sshd at 127.0.0.<host>, its host key pinned.
func (s *stead) sshNode(id string, host int, tags map[string]string) node.Node {
	return node.Node{ID: id, Address: fmt.Sprintf("127.0.0.%d", host), Port: s.sshd.Port, User: s.sshd.User,
		HostKey: s.sshd.HostKey, Tags: tags}
}

// localNode is a node reached through the local transport: the worker's host.
func localNode(id string, tags map[string]string) node.Node {
	return node.Node{ID: id, Transport: node.TransportLocal, Tags: tags}
}

// register registers or changes a node, as `stead node register` does.
func (s *stead) register(t *testing.T, n node.Node) {
	s.updateWithStart(t, contract.NodeWorkflowID(n.ID), contract.NodeWorkflow, workflows.NodeState{},
		contract.NodeUpdateRegister, workflows.RegisterNodeRequest{Node: n, By: by})
}

// createDocument registers a document, as `stead document create` does.
func (s *stead) createDocument(t *testing.T, name, content string) {
	s.updateWithStart(t, contract.DocumentWorkflowID(name), contract.DocumentWorkflow, workflows.DocumentState{},
		contract.DocumentUpdateCreate, workflows.PutDocumentRequest{Name: name, Content: content, By: by})
}

// updateDocument adds a version to a document.
func (s *stead) updateDocument(t *testing.T, name, content string) {
	var res workflows.PutDocumentResult
	s.update(t, contract.DocumentWorkflowID(name), contract.DocumentUpdateUpdate, workflows.PutDocumentRequest{Name: name, Content: content, By: by}, &res)
	require.True(t, res.Created, "a new version of %s", name)
}

// createAssociation starts an association, as `stead association create`
// does, and returns its first execution's id.
func (s *stead) createAssociation(t *testing.T, spec workflows.AssociationSpec) string {
	id := newExecutionID()
	_, err := s.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: contract.AssociationWorkflowID(spec.Name), TaskQueue: contract.TaskQueue,
	}, contract.AssociationWorkflow, workflows.CreateAssociationInput{Spec: spec, By: by, ExecutionID: id}, (*workflows.AssociationState)(nil))
	require.NoError(t, err)
	return id
}

// updateWithStart sends an update, starting the workflow if it is not
// running: how nodes and documents come to be.
func (s *stead) updateWithStart(t *testing.T, workflowID, workflowType string, startArg any, update string, arg any) {
	start := s.client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID: workflowID, TaskQueue: contract.TaskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflowType, startArg)
	h, err := s.client.UpdateWithStartWorkflow(context.Background(), client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions:          updateOptions(workflowID, update, arg),
	})
	require.NoError(t, err, "%s %s", update, workflowID)
	require.NoError(t, h.Get(context.Background(), nil), "%s %s", update, workflowID)
}

// update sends an update and waits for its result (into result, unless nil).
func (s *stead) update(t *testing.T, workflowID, update string, arg, result any) {
	h, err := s.client.UpdateWorkflow(context.Background(), updateOptions(workflowID, update, arg))
	require.NoError(t, err, "%s %s", update, workflowID)
	require.NoError(t, h.Get(context.Background(), result), "%s %s", update, workflowID)
}

func updateOptions(workflowID, update string, arg any) client.UpdateWorkflowOptions {
	return client.UpdateWorkflowOptions{WorkflowID: workflowID, UpdateName: update, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted}
}

// waitRuns waits until an association has recorded n executions and has
// nothing running or waiting, and returns its state.
func (s *stead) waitRuns(t *testing.T, name string, n int) workflows.AssociationState {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var st workflows.AssociationState
		v, err := s.client.QueryWorkflow(context.Background(), contract.AssociationWorkflowID(name), "", contract.AssociationQueryDescribe)
		require.NoError(t, err)
		require.NoError(t, v.Get(&st))
		if len(st.Executions) >= n && st.Running == nil && len(st.Queue) == 0 && len(st.NewNodes) == 0 {
			return st
		}
		require.True(t, time.Now().Before(deadline), "association %s: %d executions after 3 minutes, want %d: %+v", name, len(st.Executions), n, st)
		time.Sleep(250 * time.Millisecond)
	}
}

func parseTargets(t *testing.T, s string) []targets.Target {
	target, err := targets.Parse(s)
	require.NoError(t, err)
	return []targets.Target{target}
}

func parseSchedule(t *testing.T, s string) schedule.Schedule {
	sched, err := schedule.ParseWithMinimumRate(s, 0)
	require.NoError(t, err)
	return sched
}

func parseRate(t *testing.T, s string, minimum int) ratecontrol.Value {
	v, err := ratecontrol.Parse("rate control", s, minimum)
	require.NoError(t, err)
	return v
}
