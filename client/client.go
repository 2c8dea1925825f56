package client

import (
	"context"
	"errors"
	"sync"

	"go.temporal.io/api/enums/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/stead-io/stead/contract"
)

// Connection is an open connection to Temporal with what operations need
// beside it.
type Connection struct {
	// Temporal is the connected SDK client.
	Temporal sdkclient.Client
	// Namespace is the namespace Stead's workflows live in.
	Namespace string
	// Identity names who acts (user@host); Stead records it with every
	// change it makes.
	Identity string
	// DataConverter decodes memos and history payloads; it must be the
	// one Temporal was dialed with (payloads may be encrypted).
	DataConverter converter.DataConverter
}

// Config says how a Client reaches Temporal and where it reads full step
// output.
type Config struct {
	// Dial opens the connection. The client calls it once, on the first
	// operation that needs the server, so operations that need none
	// (checking and rendering document files, reading the output store)
	// work without one, and input is checked before anything is dialed.
	Dial func(ctx context.Context) (Connection, error)
	// OutputDir is the output store Output reads: the directory where the
	// worker that ran the steps keeps their full stdout and stderr
	// (internal/outputstore). It is local to that worker's machine.
	OutputDir string
}

// Client performs Stead's operations. It is safe for concurrent use.
type Client struct {
	cfg Config

	mu   sync.Mutex
	conn *Connection
}

// New returns a client; it dials nothing yet.
func New(cfg Config) *Client {
	return &Client{cfg: cfg}
}

// Close closes the connection, if one was opened.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.Temporal.Close()
		c.conn = nil
	}
}

// connect returns the connection, dialing it on first use.
func (c *Client) connect(ctx context.Context) (*Connection, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		if c.cfg.Dial == nil {
			return nil, errors.New("no connection to Temporal: the client was made without Config.Dial")
		}
		cn, err := c.cfg.Dial(ctx)
		if err != nil {
			return nil, err
		}
		c.conn = &cn
	}
	return c.conn, nil
}

// isClosed reports whether the latest run of a workflow has ended; a
// workflow that never existed has.
func isClosed(ctx context.Context, cn *Connection, workflowID string) (bool, error) {
	d, err := cn.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if isNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return d.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// sendUpdate sends a workflow update and waits for its result (into
// result, unless nil).
func sendUpdate(ctx context.Context, cn *Connection, workflowID, update string, arg, result any) error {
	h, err := cn.Temporal.UpdateWorkflow(ctx, updateOptions(workflowID, update, arg))
	if err != nil {
		return err
	}
	return h.Get(ctx, result)
}

// updateOptions sends arg to a workflow's update and waits for its result.
func updateOptions(workflowID, update string, arg any) sdkclient.UpdateWorkflowOptions {
	return sdkclient.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateName:   update,
		Args:         []any{arg},
		WaitForStage: sdkclient.WorkflowUpdateStageCompleted,
	}
}

// updateWithStart sends an update to the workflow workflowID, starting it
// (of workflowType, with startArg) if it is not running: how nodes and
// documents are created.
func updateWithStart(ctx context.Context, cn *Connection, workflowID, workflowType string, startArg any, update string, arg, result any) error {
	start := cn.Temporal.NewWithStartWorkflowOperation(sdkclient.StartWorkflowOptions{
		ID:                       workflowID,
		TaskQueue:                contract.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflowType, startArg)
	h, err := cn.Temporal.UpdateWithStartWorkflow(ctx, sdkclient.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions:          updateOptions(workflowID, update, arg),
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, result)
}
