package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/contract"
)

// PauseRequest stops or resumes an association, saying who asked.
type PauseRequest struct {
	By string `json:"by"`
}

// Paused is who stopped an association, and when.
type Paused struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// setPauseHandlers lets an association be stopped and resumed. Stopped, it
// starts nothing (no schedule slot, no NewNode, document change or update
// run, no manual start) and cancels the execution running, whose remote
// commands are killed as on delete; its spec, versions and records stay.
// Resumed, it runs at the next schedule slot after the resume, once: the
// slots passed while it was stopped are not caught up.
func setPauseHandlers(ctx workflow.Context, st *AssociationState, deleting *bool, cancelRunning *workflow.CancelFunc) error {
	busy := func(ctx workflow.Context, _ PauseRequest) error {
		if *deleting {
			return refusef(contract.FailureConflict, "association %s is being deleted", st.Spec.Name)
		}
		return nil
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, contract.AssociationUpdateStop,
		func(ctx workflow.Context, req PauseRequest) (AssociationState, error) {
			if st.Paused != nil {
				recordChange(ctx, associationChange(contract.OpStopAssociation, *st, req.By), nil)
				return *st, nil
			}
			st.Paused = &Paused{By: req.By, At: workflow.Now(ctx)}
			st.Queue, st.NewNodes, st.NewNodesSince, st.NewNodesLast = nil, nil, time.Time{}, time.Time{}
			st.Status, st.DetailedStatus = contract.StatusPaused, "stopped by "+req.By
			if st.Running != nil && *cancelRunning != nil {
				(*cancelRunning)()
				if err := workflow.Await(ctx, func() bool { return st.Running == nil }); err != nil {
					recordChange(ctx, associationChange(contract.OpStopAssociation, *st, req.By), err)
					return *st, err
				}
			}
			err := publishAssociation(ctx, *st)
			recordChange(ctx, associationChange(contract.OpStopAssociation, *st, req.By), err)
			return *st, err
		},
		workflow.UpdateHandlerOptions{Validator: busy},
	)
	if err != nil {
		return fmt.Errorf("set stop handler: %w", err)
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, contract.AssociationUpdateResume,
		func(ctx workflow.Context, req PauseRequest) (AssociationState, error) {
			if st.Paused == nil {
				recordChange(ctx, associationChange(contract.OpResumeAssociation, *st, req.By), nil)
				return *st, nil
			}
			st.Paused = nil
			st.Status, st.DetailedStatus = contract.StatusPending, "resumed by "+req.By
			if n := len(st.Executions); n > 0 {
				st.Status = st.Executions[n-1].Status
			}
			now := workflow.Now(ctx)
			if !st.Spec.Schedule.IsZero() {
				st.NextRunAt, _ = st.Spec.Schedule.NextFrom(st.ScheduleAnchor, now)
			}
			err := publishAssociation(ctx, *st)
			recordChange(ctx, associationChange(contract.OpResumeAssociation, *st, req.By), err)
			return *st, err
		},
		workflow.UpdateHandlerOptions{Validator: busy},
	)
	if err != nil {
		return fmt.Errorf("set resume handler: %w", err)
	}
	return nil
}
