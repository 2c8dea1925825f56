package workflows

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/audit"
)

// The head numbers and chains the records it is sent, drops a request sent
// twice, and seals a full segment into a segment workflow holding exactly
// its records; the chain runs on across segments.
func TestAuditWorkflowChainsAndSeals(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(AuditWorkflow)
	env.RegisterWorkflow(AuditSegmentWorkflow)
	var sealed []contract.AuditSegment
	env.OnWorkflow(AuditSegmentWorkflow, mock.Anything, mock.Anything).Return(func(_ workflow.Context, seg contract.AuditSegment) error {
		sealed = append(sealed, seg)
		return nil
	})
	send := func(id string) contract.AuditRecord {
		return contract.AuditRecord{EventID: "ev-" + id, RequestID: id, EventName: contract.OpUpdateDocument,
			Request: json.RawMessage(`{"hash":"x"}`), Resources: []contract.AuditResource{{Type: contract.AuditResourceDocument, Name: "d"}}}
	}
	for i, id := range []string{"a", "b", "b", "c", "d", "e"} {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalAuditRecord, send(id)) }, time.Duration(i+1)*time.Second)
	}
	var head contract.AuditSegment
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(contract.AuditQueryRecords)
		require.NoError(t, err)
		require.NoError(t, v.Get(&head))
	}, 10*time.Second)
	env.SetTestTimeout(time.Minute)
	env.ExecuteWorkflow(AuditWorkflow, AuditState{SegmentRecords: 2})

	require.Len(t, sealed, 2)
	require.Equal(t, 1, sealed[0].Number)
	require.Equal(t, 2, sealed[1].Number)
	require.Equal(t, 3, head.Number)
	require.True(t, head.Head)
	all := append(append(sealed[0].Records, sealed[1].Records...), head.Records...)
	var ids []string
	for _, r := range all {
		ids = append(ids, r.RequestID)
	}
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, ids, "one record per request, in order")
	require.NoError(t, audit.Verify(all, false))
	require.Equal(t, int64(5), all[4].Sequence)
}
