package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
)

// A node is registered, told its compliance, retagged, described and
// deregistered; each registration tells the associations it now matches.
func TestNodeWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(NodeWorkflow)
	env.RegisterActivity(&activities.Activities{})
	var notified []activities.NotifyInput
	env.OnActivity(acts.NotifyAssociations, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotifyInput) ([]string, error) {
			notified = append(notified, in)
			return nil, nil
		})

	web := node.Node{ID: "web-1", Address: "10.0.0.1", User: "deploy", Tags: map[string]string{"role": "web"}}
	db := web
	db.Tags = map[string]string{"role": "db"}
	record := contract.ComplianceRecord{Association: "patch", Status: contract.Compliant, Severity: "HIGH", ExecutionID: "e1"}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(contract.NodeUpdateRegister, "register", expectUpdate(t, "register", "", nil), RegisterNodeRequest{Node: web, By: "u@h"})
	}, time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalCompliance, record) }, 2*time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(contract.NodeUpdateRegister, "retag", expectUpdate(t, "retag", "", nil), RegisterNodeRequest{Node: db, By: "v@h"})
	}, 3*time.Second)
	var described NodeState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(contract.NodeQueryDescribe)
		require.NoError(t, err)
		require.NoError(t, v.Get(&described))
		env.UpdateWorkflow(contract.NodeUpdateDeregister, "deregister", expectUpdate(t, "deregister", "", nil), DeregisterNodeRequest{By: "u@h"})
	}, 4*time.Second)
	env.ExecuteWorkflow(NodeWorkflow, NodeState{})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	require.Equal(t, 2, described.Revision)
	require.Equal(t, db.WithDefaults(), described.Node)
	require.Equal(t, []contract.ComplianceRecord{record}, described.Compliance)
	var actions []string
	for _, c := range described.Changes {
		actions = append(actions, c.Action+" by "+c.By)
	}
	require.Equal(t, []string{"register by u@h", "update by v@h"}, actions)
	require.Len(t, notified, 2)
	require.Nil(t, notified[0].Previous)
	require.Equal(t, web.WithDefaults(), *notified[1].Previous)
	require.Equal(t, db.WithDefaults(), notified[1].Node)
}
