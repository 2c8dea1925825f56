package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/outputstore"
	"github.com/stead-io/stead/internal/ratecontrol"
	"github.com/stead-io/stead/internal/schedule"
	"github.com/stead-io/stead/internal/targets"
	"github.com/stead-io/stead/workflows"
)

// offline is a client that fails the test if it dials: what it is used for
// must be refused before anything is sent.
func offline(t *testing.T) *Client {
	return New(Config{Dial: func(context.Context) (Connection, error) {
		t.Error("dialed Temporal")
		return Connection{}, errors.New("no server in this test")
	}})
}

func TestBadInputIsRefusedBeforeDialing(t *testing.T) {
	ctx := context.Background()
	cl := offline(t)
	spec := workflows.AssociationSpec{Name: "x", Document: "Stead-RunShellScript",
		Targets:        []targets.Target{{Key: targets.KeyInstanceIDs, Values: []string{"*"}}},
		Schedule:       schedule.FromText("cron(0 25 * * ? *)", 0),
		MaxConcurrency: ratecontrol.FromText("50"), MaxErrors: ratecontrol.FromText("abc")}
	_, err := cl.CreateAssociation(ctx, spec)
	require.ErrorIs(t, err, ErrInvalid)
	var inv *InvalidError
	require.ErrorAs(t, err, &inv)
	require.Equal(t, []string{
		`association name "x": want 3-128 letters, digits, '_', '.' or '-'`,
		"document Stead-RunShellScript: check parameters of document Stead-RunShellScript: parameter commands: a value is required (the parameter has no default)",
		"cron(0 25 * * ? *): hours: 25 is out of range 0-23",
		`max-errors "abc": want a whole number or a percentage like 10%`,
	}, inv.Problems)

	_, err = cl.RegisterNode(ctx, node.Node{ID: "n1", Platform: "beos", Transport: "ssh", Port: 22})
	require.EqualError(t, err, `node n1: platform "beos": want linux or windows; address: required for the ssh transport; user: required for the ssh transport (the login the node's steps run as)`)
	require.ErrorIs(t, err, ErrInvalid)

	_, err = cl.ImportNodes(ctx, []byte("- id: a\n  address: x\n  user: u\n- id: a\n  address: y\n  user: u\n"))
	require.ErrorIs(t, err, ErrInvalid)

	_, err = cl.CreateDocument(ctx, "my-doc", []byte(`{"schemaVersion": "2.2"}`))
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "document my-doc: mainSteps: at least one step is required")
	_, err = cl.CreateDocument(ctx, "AWS-RunShellScript", []byte(`{}`))
	require.ErrorContains(t, err, "is built in")

	_, _, err = cl.Execution(ctx, "a", "not-a-uuid")
	require.EqualError(t, err, `execution "not-a-uuid": not an execution id`)
	_, err = cl.Compliance(ctx, ComplianceFilter{Status: "maybe"})
	require.ErrorIs(t, err, ErrInvalid)

	// Built-in documents need no server.
	d, err := cl.DescribeDocument(ctx, "AWS-RunShellScript", "$LATEST")
	require.NoError(t, err)
	require.Equal(t, "Stead-RunShellScript", d.Name)
	src, err := cl.ResolveDocument(ctx, "Stead-RunShellScript", "1")
	require.NoError(t, err)
	plan, err := cl.RenderDocument(ctx, src, map[string]any{"commands": "uptime"})
	require.NoError(t, err)
	require.Equal(t, "Stead-RunShellScript", plan.DocumentName)
}

// roundTrip passes err through Temporal's failure conversion, as an
// update's refusal reaches a client.
func roundTrip(err error) error {
	fc := temporal.GetDefaultFailureConverter()
	return fc.FailureToError(fc.ErrorToFailure(err))
}

func TestRefusalIsTyped(t *testing.T) {
	details := temporal.ApplicationErrorOptions{Details: []any{&InvalidError{Problems: []string{"a", "b"}, Total: 3}}}
	for _, tt := range []struct {
		name string
		err  error
		kind error
		msg  string
	}{
		{"missing workflow", serviceerror.NewNotFound("workflow not found"), ErrNotFound, "association web not found"},
		{"not found", temporal.NewApplicationError("document x has no version 9", contract.FailureNotFound), ErrNotFound, "setDefault document x: document x has no version 9"},
		{"conflict", temporal.NewApplicationError("is at version 2, not 1", contract.FailureConflict), ErrConflict, "setDefault document x: is at version 2, not 1"},
		{"invalid", temporal.NewApplicationErrorWithOptions("a; b (and 1 more)", contract.FailureInvalid, details), ErrInvalid, "a; b (and 1 more)"},
		{"invalid without details", temporal.NewApplicationError("bad", contract.FailureInvalid), ErrInvalid, "bad"},
		{"anything else", errors.New("boom"), nil, "setDefault document x: boom"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err
			if !strings.HasPrefix(tt.name, "missing") {
				err = roundTrip(err)
			}
			got := refusal(err, "association web not found", "setDefault document x")
			require.Equal(t, tt.msg, got.Error())
			for _, kind := range []error{ErrNotFound, ErrConflict, ErrInvalid} {
				require.Equal(t, kind == tt.kind, errors.Is(got, kind), "%v", kind)
			}
			if tt.kind == ErrInvalid {
				var inv *InvalidError
				require.ErrorAs(t, got, &inv)
			}
		})
	}
}

func TestAwaitVisible(t *testing.T) {
	ctx := context.Background()
	calls := 0
	err := awaitVisible(ctx, time.Minute, func(context.Context) (bool, error) { calls++; return calls == 3, nil }, nil,
		func(error) error { return errors.New("timed out") })
	require.NoError(t, err)
	require.Equal(t, 3, calls)

	start := time.Now()
	err = awaitVisible(ctx, 300*time.Millisecond, func(context.Context) (bool, error) { return false, nil }, nil,
		func(error) error { return errors.New("timed out") })
	require.EqualError(t, err, "timed out")
	require.Less(t, time.Since(start), 2*time.Second)

	// An error ends the wait unless retry says otherwise; the last one is
	// the timeout's to report.
	flaky := errors.New("listing timed out")
	err = awaitVisible(ctx, time.Minute, func(context.Context) (bool, error) { return false, flaky }, nil, nil)
	require.Equal(t, flaky, err)
	err = awaitVisible(ctx, 200*time.Millisecond, func(context.Context) (bool, error) { return false, flaky },
		func(error) bool { return true }, func(last error) error { return last })
	require.Equal(t, flaky, err)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = awaitVisible(cctx, time.Minute, func(context.Context) (bool, error) { return false, nil }, nil, nil)
	require.ErrorIs(t, err, context.Canceled)
}

func TestOutput(t *testing.T) {
	dir := t.TempDir()
	store := outputstore.Store{Dir: dir}
	write := func(step, ext, text string) {
		require.NoError(t, store.Write(outputstore.Key{Association: "a", Execution: "e", Node: "n", Step: step}, ext,
			func(w io.Writer) error { _, err := io.WriteString(w, text); return err }))
	}
	write("b", outputstore.StdoutExt, "second\n")
	write("a", outputstore.StdoutExt, "first\n")
	write("a", outputstore.StderrExt, "oops\n")
	cl := New(Config{OutputDir: dir})

	req := OutputRequest{Association: "a", Execution: "e", Node: "n"}
	steps, err := cl.OutputSteps(req)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, steps)
	var out bytes.Buffer
	req.Step = "b"
	require.NoError(t, cl.WriteOutput(&out, req))
	require.Equal(t, "second\n", out.String())

	req.Step, req.Stderr = "", true
	steps, err = cl.OutputSteps(req)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, steps)

	_, err = cl.OutputSteps(OutputRequest{Association: "a", Execution: "e", Node: "other"})
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, "no output of node other in execution e of a")
	err = cl.WriteOutput(io.Discard, OutputRequest{Association: "a", Execution: "e", Node: "n", Step: "c"})
	require.ErrorIs(t, err, ErrNotFound)
	err = cl.WriteOutput(io.Discard, OutputRequest{Association: "a", Execution: "../x", Node: "n", Step: "c"})
	require.ErrorIs(t, err, ErrInvalid)

	// Operations that need the server say so.
	_, err = cl.Nodes(context.Background())
	require.ErrorContains(t, err, "no connection to Temporal")
}
