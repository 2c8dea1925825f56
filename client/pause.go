package client

import (
	"context"
	"fmt"

	"go.temporal.io/api/enums/v1"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/workflows"
)

// StopAssociation pauses an association: no schedule slot, NewNode,
// document change, update or manual run starts until ResumeAssociation,
// and a running execution is cancelled (its remote commands killed)
// before it returns. The association, its versions and its records stay.
func (c *Client) StopAssociation(ctx context.Context, name string) (workflows.AssociationState, error) {
	return c.pause(ctx, name, contract.AssociationUpdateStop, "stop")
}

// ResumeAssociation undoes StopAssociation: the association runs again at
// its next schedule slot, once; slots passed while it was stopped are not
// caught up.
func (c *Client) ResumeAssociation(ctx context.Context, name string) (workflows.AssociationState, error) {
	return c.pause(ctx, name, contract.AssociationUpdateResume, "resume")
}

func (c *Client) pause(ctx context.Context, name, update, verb string) (workflows.AssociationState, error) {
	var st workflows.AssociationState
	if err := workflows.ValidAssociationName(name); err != nil {
		return st, invalid(err)
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return st, err
	}
	if err := sendUpdate(ctx, cn, contract.AssociationWorkflowID(name), update, workflows.PauseRequest{By: cn.Identity}, &st); err != nil {
		return st, refusal(err, "association "+name+" not found", verb+" association "+name)
	}
	return st, nil
}

// CancelExecution cancels one execution of an association, as delete and
// stop cancel the running one: nodes not started are not started, and the
// commands running on nodes are killed. The association goes on.
func (c *Client) CancelExecution(ctx context.Context, name, execID string) error {
	if err := workflows.ValidAssociationName(name); err != nil {
		return invalid(err)
	}
	if err := checkExecutionID(execID); err != nil {
		return err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	id := contract.ExecutionWorkflowID(name, execID)
	d, err := cn.Temporal.DescribeWorkflowExecution(ctx, id, "")
	switch {
	case isNotFound(err):
		return notFound(fmt.Sprintf("association %s has no execution %s", name, execID), err)
	case err != nil:
		return fmt.Errorf("cancel execution %s of association %s: %w", execID, name, err)
	case d.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return conflict(fmt.Sprintf("execution %s of association %s has already ended", execID, name), nil)
	}
	if err := cn.Temporal.CancelWorkflow(ctx, id, ""); err != nil {
		return fmt.Errorf("cancel execution %s of association %s: %w", execID, name, err)
	}
	// Wait for the cancellation to take its course: the nodes' commands are
	// killed before the execution ends, however it then reports its end.
	if err := cn.Temporal.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil && ctx.Err() != nil {
		return fmt.Errorf("cancel execution %s of association %s: %w", execID, name, ctx.Err())
	}
	return nil
}
