package cli_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/stead-io/stead/client"
	"github.com/stead-io/stead/contract"
)

func TestNamespaceSetupIsIdempotent(t *testing.T) {
	var rep client.NamespaceReport
	out := ok(t, "namespace", "setup", "--namespace", "ns-setup", "--retention", "3d", "--output", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.True(t, rep.Created)
	assert.Equal(t, 3*24*time.Hour, rep.Retention)
	assert.Len(t, rep.Added, len(contract.SearchAttributes()))

	// Again: nothing to do, the namespace's retention kept.
	out = ok(t, "namespace", "setup", "--namespace", "ns-setup")
	assert.Contains(t, out, "ns-setup (exists)")
	assert.Contains(t, out, "Retention:                 3d")
	assert.Contains(t, out, "Search attributes added:   none")

	out = ok(t, "namespace", "setup", "--namespace", "ns-setup", "--retention", "72h", "--output", "json")
	rep = client.NamespaceReport{}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.False(t, rep.Created)
	assert.False(t, rep.RetentionChanged, "72h is the 3d it has")
	assert.Empty(t, rep.Added)
	assert.Len(t, rep.Present, len(contract.SearchAttributes()))

	out = ok(t, "namespace", "setup", "--namespace", "ns-setup", "--retention", "4d")
	assert.Contains(t, out, "ns-setup (exists, retention changed)")
	c := dialTest(t)
	defer c.Close()
	desc, err := c.WorkflowService().DescribeNamespace(context.Background(), &workflowservice.DescribeNamespaceRequest{Namespace: "ns-setup"})
	require.NoError(t, err)
	assert.Equal(t, 4*24*time.Hour, desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())

	fails(t, `retention "-2d": want a positive number of days`, "namespace", "setup", "--namespace", "ns-setup", "--retention", "-2d")
}

func TestNamespaceSetupRefusesAttributeOfAnotherType(t *testing.T) {
	c := dialTest(t)
	defer c.Close()
	ctx := context.Background()
	// A namespace where someone took a Stead name for a Text attribute.
	_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: "ns-clash-2", WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace:        "ns-clash-2",
			SearchAttributes: map[string]enumspb.IndexedValueType{contract.AttrNodeID.GetName(): enumspb.INDEXED_VALUE_TYPE_TEXT},
		})
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "add a clashing attribute: %v", err)
	fails(t, "register search attribute SteadNodeId as Keyword: it is already registered as Text", "namespace", "setup", "--namespace", "ns-clash-2")
}
