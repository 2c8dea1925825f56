package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/docref"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/targets"
	"github.com/stead-io/stead/internal/visibility"
	"github.com/stead-io/stead/workflows"
)

// Created is a new association: its spec as stored and the execution it
// started, "" when it runs only on its schedule
// (ApplyOnlyAtCronInterval).
type Created struct {
	Spec        workflows.AssociationSpec
	ExecutionID string
}

// CreateAssociation checks a spec — every problem at once, then that the
// node ids it targets are registered and that its document exists and
// takes its parameters — and starts the association: it runs at once
// (unless ApplyOnlyAtCronInterval), then on its schedule.
func (c *Client) CreateAssociation(ctx context.Context, spec workflows.AssociationSpec) (Created, error) {
	spec, err := c.checkSpec(ctx, spec)
	if err != nil {
		return Created{}, err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return Created{}, err
	}
	execID := uuid.NewString()
	_, err = cn.Temporal.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{
		ID:                       contract.AssociationWorkflowID(spec.Name),
		TaskQueue:                contract.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// A name is taken while its association runs.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, contract.AssociationWorkflow, workflows.CreateAssociationInput{Spec: spec, By: cn.Identity, ExecutionID: execID}, (*workflows.AssociationState)(nil))
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return Created{}, conflict(fmt.Sprintf("association %s already exists", spec.Name), err)
	}
	if err != nil {
		return Created{}, fmt.Errorf("create association %s: %w", spec.Name, err)
	}
	if spec.ApplyOnlyAtCronInterval {
		execID = ""
	}
	return Created{Spec: spec, ExecutionID: execID}, nil
}

// checkSpec is every check of a spec before it is sent: Validate, then
// against the server the node ids it names and its document. It returns
// the spec to send, its document reference as stored (a built-in's
// canonical name).
func (c *Client) checkSpec(ctx context.Context, spec workflows.AssociationSpec) (workflows.AssociationSpec, error) {
	if err := spec.Validate(); err != nil {
		return spec, invalid(err)
	}
	if err := spec.Schedule.CheckFires(time.Now()); err != nil {
		return spec, invalid(err)
	}
	spec = spec.Normalized()
	if err := c.checkInstanceIDs(ctx, spec.Targets); err != nil {
		return spec, err
	}
	ref, err := docref.Check(spec.Document, spec.Parameters, c.resolver(ctx))
	if err != nil {
		return spec, err
	}
	spec.Document = ref
	return spec, nil
}

// checkInstanceIDs fails if the targets name node ids that are not
// registered.
func (c *Client) checkInstanceIDs(ctx context.Context, ts []targets.Target) error {
	ids := targets.InstanceIDs(ts)
	if len(ids) == 0 {
		return nil
	}
	found, err := c.nodesMatching(ctx, []targets.Target{{Key: targets.KeyInstanceIDs, Values: ids}})
	if err != nil {
		return err
	}
	var missing []string
	for _, id := range ids {
		if !slices.ContainsFunc(found, func(n node.Node) bool { return n.ID == id }) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return invalid(fmt.Errorf("targets name unregistered nodes: %s", strings.Join(missing, ", ")))
	}
	return nil
}

// Updated is an association's state after an update, and the execution
// the update queued, "" when it queued none: only a change of what runs
// or where runs at once, as in SSM.
type Updated struct {
	State       workflows.AssociationState
	ExecutionID string
}

// UpdateAssociation replaces an association's spec with a new version,
// checked as CreateAssociation checks one. expectedVersion, unless 0, makes
// it fail with ErrConflict if the association is at another version:
// someone changed it since it was read.
func (c *Client) UpdateAssociation(ctx context.Context, spec workflows.AssociationSpec, expectedVersion int) (Updated, error) {
	name := spec.Name
	spec, err := c.checkSpec(ctx, spec)
	if err != nil {
		return Updated{}, err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return Updated{}, err
	}
	var st workflows.AssociationState
	if err := sendUpdate(ctx, cn, contract.AssociationWorkflowID(name), contract.AssociationUpdateUpdate,
		workflows.UpdateRequest{Spec: spec, ExpectedVersion: expectedVersion, By: cn.Identity}, &st); err != nil {
		return Updated{}, refusal(err, "association "+name+" not found", "update association "+name)
	}
	out := Updated{State: st}
	for _, q := range st.Queue {
		if q.Reason == workflows.ReasonUpdate {
			out.ExecutionID = q.ExecutionID
		}
	}
	return out, nil
}

// Association returns an association's spec, versions, executions and
// state.
func (c *Client) Association(ctx context.Context, name string) (workflows.AssociationState, error) {
	var st workflows.AssociationState
	if err := workflows.ValidAssociationName(name); err != nil {
		return st, invalid(err)
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return st, err
	}
	id := contract.AssociationWorkflowID(name)
	missing := "association " + name + " not found"
	closed, err := isClosed(ctx, cn, id)
	if err != nil {
		return st, fmt.Errorf("describe association %s: %w", name, err)
	}
	if closed {
		return st, notFound(missing, nil)
	}
	v, err := cn.Temporal.QueryWorkflow(ctx, id, "", contract.AssociationQueryDescribe)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		return st, refusal(err, missing, "describe association "+name)
	}
	return st, nil
}

// AssociationListEntry is one association of the list.
type AssociationListEntry struct {
	Name     string `json:"name"`
	Document string `json:"document"`
	Status   string `json:"status"`
}

// Associations lists every association by name, with its document and
// the status of its last execution.
func (c *Client) Associations(ctx context.Context) ([]AssociationListEntry, error) {
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	out := []AssociationListEntry{}
	err = visibility.Each(ctx, cn.Temporal, cn.Namespace,
		"WorkflowType = '"+contract.AssociationWorkflow+"' AND ExecutionStatus = 'Running'", "associations",
		func(e *workflowpb.WorkflowExecutionInfo) error {
			sa := e.GetSearchAttributes().GetIndexedFields()
			r := AssociationListEntry{Name: contract.AssociationName(e.GetExecution().GetWorkflowId())}
			_ = cn.DataConverter.FromPayload(sa[contract.AttrDocument.GetName()], &r.Document)
			_ = cn.DataConverter.FromPayload(sa[contract.AttrStatus.GetName()], &r.Status)
			out = append(out, r)
			return nil
		})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b AssociationListEntry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// StartAssociation asks for a run now and returns the id of the execution
// it queued.
func (c *Client) StartAssociation(ctx context.Context, name string) (string, error) {
	if _, err := c.Association(ctx, name); err != nil {
		return "", err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return "", err
	}
	var execID string
	if err := sendUpdate(ctx, cn, contract.AssociationWorkflowID(name), contract.AssociationUpdateStart, workflows.StartRequest{By: cn.Identity}, &execID); err != nil {
		return "", refusal(err, "association "+name+" not found", "start association "+name)
	}
	return execID, nil
}

// DeleteAssociation stops an association: a running execution is
// cancelled and its remote commands killed. It returns once the workflow
// has ended and the association list no longer shows it.
func (c *Client) DeleteAssociation(ctx context.Context, name string) error {
	if _, err := c.Association(ctx, name); err != nil {
		return err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	id := contract.AssociationWorkflowID(name)
	if err := sendUpdate(ctx, cn, id, contract.AssociationUpdateDelete, workflows.DeleteRequest{By: cn.Identity}, nil); err != nil {
		return refusal(err, "association "+name+" not found", "delete association "+name)
	}
	// The workflow ends right after the update; wait for that, and for
	// listings to agree, so the next operation sees the association gone.
	if err := cn.Temporal.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		return fmt.Errorf("delete association %s: %w", name, err)
	}
	query := fmt.Sprintf("WorkflowId = '%s' AND ExecutionStatus = 'Running'", id)
	return awaitVisible(ctx, visibleWithin,
		func(ctx context.Context) (bool, error) {
			resp, err := cn.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: cn.Namespace, Query: query})
			if err != nil {
				return false, fmt.Errorf("delete association %s: %w", name, err)
			}
			return resp.GetCount() == 0, nil
		}, nil,
		func(error) error {
			return fmt.Errorf("association %s deleted but still listed after %s", name, visibleWithin)
		})
}

// Executions lists an association's executions, newest first, the
// running one included.
func (c *Client) Executions(ctx context.Context, name string) ([]workflows.ExecutionRecord, error) {
	st, err := c.Association(ctx, name)
	if err != nil {
		return nil, err
	}
	recs := slices.Clone(st.Executions)
	if st.Running != nil {
		recs = append(recs, *st.Running)
	}
	slices.Reverse(recs)
	if recs == nil {
		recs = []workflows.ExecutionRecord{}
	}
	return recs, nil
}

// LatestExecution is the id of an association's running execution, else
// of its most recent one.
func (c *Client) LatestExecution(ctx context.Context, name string) (string, error) {
	st, err := c.Association(ctx, name)
	if err != nil {
		return "", err
	}
	if st.Running != nil {
		return st.Running.ExecutionID, nil
	}
	if n := len(st.Executions); n > 0 {
		return st.Executions[n-1].ExecutionID, nil
	}
	return "", notFound(fmt.Sprintf("association %s has no execution yet", name), nil)
}

// Execution returns an execution's result if it has ended (done), else
// its live progress.
func (c *Client) Execution(ctx context.Context, name, execID string) (res workflows.ExecutionResult, done bool, err error) {
	if err := checkExecutionID(execID); err != nil {
		return res, false, err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return res, false, err
	}
	id := contract.ExecutionWorkflowID(name, execID)
	d, err := cn.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return res, false, refusal(err, "execution "+execID+" of association "+name+" not found", "describe execution "+execID)
	}
	if d.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		err := cn.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &res)
		if err != nil && workflows.ExecutionResultOf(err, &res) {
			err = nil // it failed or was cancelled: its result says how
		}
		return res, true, err
	}
	v, err := cn.Temporal.QueryWorkflow(ctx, id, "", contract.ExecutionQueryProgress)
	if err == nil {
		err = v.Get(&res)
	}
	return res, false, err
}

// checkExecutionID refuses what is not an execution id (a UUID).
func checkExecutionID(execID string) error {
	if _, err := uuid.Parse(execID); err != nil {
		return invalid(fmt.Errorf("execution %q: not an execution id", execID))
	}
	return nil
}

// DescribeAssociation is Association for showing: the values of secret
// parameters are redacted (see redactSecretParameters). What is written
// back (an update) must start from Association, which keeps them.
func (c *Client) DescribeAssociation(ctx context.Context, name string) (workflows.AssociationState, error) {
	st, err := c.Association(ctx, name)
	if err == nil {
		c.redactSecretParameters(ctx, &st)
	}
	return st, err
}
