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
	"github.com/stead-io/stead/documents"
)

const docV1 = `{"schemaVersion": "2.2", "mainSteps": [{"action": "aws:runShellScript", "name": "a", "inputs": {"runCommand": "true"}}]}`
const docV2 = `{"schemaVersion": "2.2", "mainSteps": [{"action": "aws:runShellScript", "name": "a", "inputs": {"runCommand": "false"}}]}`

// expectUpdate is an update callback that checks the outcome when it arrives.
func expectUpdate(t *testing.T, name, reject string, check func(t *testing.T, res any)) *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept: func() {
			if reject != "" {
				t.Errorf("%s: accepted, want rejected with %q", name, reject)
			}
		},
		OnReject: func(err error) {
			if reject == "" {
				t.Errorf("%s: rejected: %v", name, err)
				return
			}
			require.ErrorContains(t, err, reject, name)
		},
		OnComplete: func(res any, err error) {
			require.NoError(t, err, name)
			if check != nil {
				check(t, res)
			}
		},
	}
}

func TestDocumentWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(DocumentWorkflow)
	env.RegisterActivity(&activities.Activities{})
	var changes []contract.DocumentChanged
	env.OnActivity((&activities.Activities{}).NotifyDocumentChange, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.DocumentChanged) ([]string, error) {
			changes = append(changes, in)
			return nil, nil
		})
	steps := []struct {
		name   string
		update string
		arg    any
		reject string
		check  func(t *testing.T, res any)
	}{
		{"create", contract.DocumentUpdateCreate, PutDocumentRequest{Name: "my-doc", Content: docV1, By: "u@h"}, "", func(t *testing.T, res any) {
			r := decode[PutDocumentResult](t, res)
			require.True(t, r.Created)
			require.Equal(t, 1, r.Version.Version)
		}},
		{"create twice", contract.DocumentUpdateCreate, PutDocumentRequest{Name: "my-doc", Content: docV1, By: "u@h"}, "document my-doc already exists (version 1)", nil},
		{"invalid content", contract.DocumentUpdateUpdate, PutDocumentRequest{Name: "my-doc", Content: `{"schemaVersion": "2.2"}`, By: "u@h"}, "mainSteps: at least one step is required", nil},
		{"built-in name", contract.DocumentUpdateUpdate, PutDocumentRequest{Name: "AWS-RunShellScript", Content: docV1}, "is built in", nil},
		{"unchanged", contract.DocumentUpdateUpdate, PutDocumentRequest{Name: "my-doc", Content: docV1, By: "u@h"}, "", func(t *testing.T, res any) {
			r := decode[PutDocumentResult](t, res)
			require.False(t, r.Created)
			require.Equal(t, 1, r.Version.Version)
		}},
		{"update", contract.DocumentUpdateUpdate, PutDocumentRequest{Name: "my-doc", Content: docV2, By: "v@h"}, "", func(t *testing.T, res any) {
			r := decode[PutDocumentResult](t, res)
			require.True(t, r.Created)
			require.Equal(t, 2, r.Version.Version)
			require.Equal(t, "v@h", r.Version.CreatedBy)
		}},
		{"default to a missing version", contract.DocumentUpdateSetDefault, SetDefaultRequest{Version: 3}, "document my-doc has no version 3 (versions 1-2)", nil},
		{"set default", contract.DocumentUpdateSetDefault, SetDefaultRequest{Version: 2}, "", func(t *testing.T, res any) {
			require.Equal(t, 2, decode[DocumentInfo](t, res).DefaultVersion)
		}},
	}
	for i, st := range steps {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(st.update, st.name, expectUpdate(t, st.name, st.reject, st.check), st.arg)
		}, time.Duration(i+1)*time.Second)
	}
	env.RegisterDelayedCallback(func() {
		for sel, want := range map[string]int{"$DEFAULT": 2, "$LATEST": 2, "1": 1, "": 2} {
			v, err := env.QueryWorkflow(contract.DocumentQueryVersion, sel)
			require.NoError(t, err)
			var dv DocumentVersion
			require.NoError(t, v.Get(&dv))
			require.Equal(t, want, dv.Version, sel)
		}
		_, err := env.QueryWorkflow(contract.DocumentQueryVersion, "7")
		require.ErrorIs(t, err, documents.ErrNotFound)
		v, err := env.QueryWorkflow(contract.DocumentQueryDescribe)
		require.NoError(t, err)
		var info DocumentInfo
		require.NoError(t, v.Get(&info))
		require.Equal(t, "my-doc", info.Name)
		require.Equal(t, 2, info.DefaultVersion)
		require.Equal(t, 2, info.LatestVersion)
		require.Len(t, info.Versions, 2)
		require.Empty(t, info.Versions[1].Content, "describe leaves the content out")
		require.Equal(t, len(docV2), info.Versions[1].Size)
		env.UpdateWorkflow(contract.DocumentUpdateDelete, "delete", expectUpdate(t, "delete", "", nil), DeleteDocumentRequest{By: "u@h"})
	}, time.Minute)
	env.ExecuteWorkflow(DocumentWorkflow, DocumentState{})
	require.NoError(t, env.GetWorkflowError())
	// A new version changes $LATEST, a new default $DEFAULT: associations
	// using them are told (reason DocumentChange). Version 1 and the
	// unchanged update tell nobody.
	require.Equal(t, []contract.DocumentChanged{
		{Document: "my-doc", Latest: true, Version: 2},
		{Document: "my-doc", Default: true, Version: 2},
	}, changes)
}

func TestDocumentChangeApplies(t *testing.T) {
	latest := contract.DocumentChanged{Document: "my-doc", Latest: true, Version: 2}
	def := contract.DocumentChanged{Document: "my-doc", Default: true, Version: 2}
	for _, tt := range []struct {
		ref     string
		change  contract.DocumentChanged
		applies bool
	}{
		{"my-doc", def, true},
		{"my-doc:$DEFAULT", def, true},
		{"my-doc:$LATEST", def, false},
		{"my-doc:$LATEST", latest, true},
		{"my-doc", latest, false},
		{"my-doc:1", def, false},
		{"other-doc", def, false},
	} {
		require.Equal(t, tt.applies, documentChangeApplies(tt.ref, tt.change), "%s %+v", tt.ref, tt.change)
	}
}

func TestDocumentWorkflowClosesWhenCreateRejected(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(DocumentWorkflow)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(contract.DocumentUpdateCreate, "bad", expectUpdate(t, "bad", "json syntax error", nil), PutDocumentRequest{Name: "my-doc", Content: "{"})
	}, time.Second)
	env.ExecuteWorkflow(DocumentWorkflow, DocumentState{})
	require.NoError(t, env.GetWorkflowError())
	require.True(t, env.IsWorkflowCompleted())
}

// decode reads an update result, which the test environment hands over as the value or
// as its encoded form.
func decode[T any](t *testing.T, res any) T {
	if v, ok := res.(T); ok {
		return v
	}
	if p, ok := res.(*T); ok {
		return *p
	}
	t.Fatalf("unexpected update result %T", res)
	var zero T
	return zero
}
