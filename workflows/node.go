package workflows

import (
	"fmt"
	"reflect"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
)

// maxNodeChangesPerRun bounds a node workflow's history; it continues as new
// after this many changes.
const maxNodeChangesPerRun = 500

// NodeChange records one registration or change of a node, for the audit
// trail a describe shows.
type NodeChange struct {
	Revision int       `json:"revision"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Action   string    `json:"action"`
}

// NodeState is the durable state of a node workflow, carried across
// continue-as-new.
type NodeState struct {
	Node     node.Node    `json:"node"`
	Revision int          `json:"revision"`
	Changes  []NodeChange `json:"changes"`
	// Compliance holds the node's compliance per association, sorted by
	// association.
	Compliance []contract.ComplianceRecord `json:"compliance,omitempty"`
}

// RegisterNodeRequest is the register update's argument: the full node spec
// and who sends it.
type RegisterNodeRequest struct {
	Node node.Node `json:"node"`
	By   string    `json:"by"`
}

// DeregisterNodeRequest is the deregister update's argument.
type DeregisterNodeRequest struct {
	By string `json:"by"`
}

// unregisteredGrace is how long a node workflow waits for its first
// register update before closing itself.
const unregisteredGrace = time.Minute

// maxChangesKept bounds the change log carried in state.
const maxChangesKept = 50

// NodeWorkflow holds one managed node for as long as it is registered. The
// register update (sent with update-with-start) creates or replaces its
// spec; deregister ends it. The spec is mirrored into the memo and the tags,
// region and platform into search attributes, which is what targeting
// queries.
func NodeWorkflow(ctx workflow.Context, st NodeState) error {
	changes := 0
	deregistered := false
	notifying := 0

	if st.Revision > 0 {
		if err := publishNode(ctx, st.Node); err != nil {
			return err
		}
		if len(st.Compliance) > 0 {
			if err := publishCompliance(ctx, st.Compliance); err != nil {
				return err
			}
		}
	}

	err := workflow.SetQueryHandler(ctx, contract.NodeQueryDescribe, func() (NodeState, error) {
		return st, nil
	})
	if err != nil {
		return fmt.Errorf("set describe handler: %w", err)
	}

	err = workflow.SetUpdateHandlerWithOptions(ctx, contract.NodeUpdateRegister,
		func(ctx workflow.Context, req RegisterNodeRequest) (NodeState, error) {
			n := req.Node.WithDefaults()
			action := "register"
			if st.Revision > 0 {
				action = "update"
			}
			if err := publishNode(ctx, n); err != nil {
				return NodeState{}, err
			}
			var previous *node.Node
			if st.Revision > 0 {
				p := st.Node
				previous = &p
			}
			st.Node = n
			st.Revision++
			notifyAssociations(ctx, n, previous, &notifying)
			st.Changes = appendBounded(st.Changes, NodeChange{Revision: st.Revision, By: req.By, At: workflow.Now(ctx), Action: action}, maxChangesKept)
			changes++
			op := contract.OpRegisterNode
			if previous != nil {
				op = contract.OpUpdateNode
				if pinned := *previous; pinned.HostKey != n.HostKey {
					pinned.HostKey = n.HostKey
					if reflect.DeepEqual(pinned, n) {
						op = contract.OpTrustNode
					}
				}
			}
			change := nodeChange(op, n.ID, req.By)
			change.Request = map[string]any{"node": n}
			change.Response = map[string]any{"revision": st.Revision}
			recordChange(ctx, change, nil)
			return st, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req RegisterNodeRequest) error {
			if deregistered {
				return refusef(contract.FailureConflict, "node %s is being deregistered", st.Node.ID)
			}
			n := req.Node.WithDefaults()
			if st.Revision > 0 && n.ID != st.Node.ID {
				return refusef(contract.FailureInvalid, "node id %s does not match workflow node %s", n.ID, st.Node.ID)
			}
			if err := n.Validate(); err != nil {
				return refusal(contract.FailureInvalid, fmt.Errorf("node %s: %w", n.ID, err))
			}
			return nil
		}},
	)
	if err != nil {
		return fmt.Errorf("set register handler: %w", err)
	}

	err = workflow.SetUpdateHandlerWithOptions(ctx, contract.NodeUpdateDeregister,
		func(ctx workflow.Context, req DeregisterNodeRequest) (NodeState, error) {
			deregistered = true
			st.Changes = appendBounded(st.Changes, NodeChange{Revision: st.Revision, By: req.By, At: workflow.Now(ctx), Action: "deregister"}, maxChangesKept)
			recordChange(ctx, nodeChange(contract.OpDeregisterNode, st.Node.ID, req.By), nil)
			return st, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req DeregisterNodeRequest) error {
			if st.Revision == 0 {
				return refusef(contract.FailureNotFound, "node is not registered")
			}
			return nil
		}},
	)
	if err != nil {
		return fmt.Errorf("set deregister handler: %w", err)
	}

	compliance := workflow.GetSignalChannel(ctx, contract.SignalCompliance)
	applyCompliance := func(ctx workflow.Context, r contract.ComplianceRecord) {
		st.Compliance = recordCompliance(st.Compliance, r)
		if err := publishCompliance(ctx, st.Compliance); err != nil {
			workflow.GetLogger(ctx).Error("publish compliance", "error", err)
		}
	}
	// The reports are taken from the channel only when they are applied:
	// a blocked Receive would be handed a report that the drain before
	// continue-as-new then misses, and the report would be lost.
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return compliance.Len() > 0 }); err != nil {
				return
			}
			var r contract.ComplianceRecord
			for compliance.ReceiveAsync(&r) {
				applyCompliance(ctx, r)
			}
		}
	})

	if st.Revision == 0 {
		// Started by an update-with-start whose register update was
		// rejected: close rather than linger as a node with no spec.
		ok, err := workflow.AwaitWithTimeout(ctx, unregisteredGrace, func() bool { return st.Revision > 0 })
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
	}
	err = workflow.Await(ctx, func() bool {
		return deregistered || changes >= maxNodeChangesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
	})
	if err != nil {
		return err
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && notifying == 0 }); err != nil {
		return err
	}
	if deregistered {
		return nil
	}
	var r contract.ComplianceRecord
	for compliance.ReceiveAsync(&r) {
		st.Compliance = recordCompliance(st.Compliance, r)
	}
	return workflow.NewContinueAsNewError(ctx, NodeWorkflow, st)
}

// notifyAssociations tells, in the background, the associations the node
// now matches, so a new or retagged node is bootstrapped without waiting for
// their schedules.
func notifyAssociations(ctx workflow.Context, n node.Node, previous *node.Node, inFlight *int) {
	*inFlight++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { *inFlight-- }()
		actx := workflow.WithActivityOptions(ctx, controlOptions)
		var a *activities.Activities
		err := workflow.ExecuteActivity(actx, a.NotifyAssociations, activities.NotifyInput{Node: n, Previous: previous, At: workflow.Now(ctx)}).Get(ctx, nil)
		if err != nil {
			workflow.GetLogger(ctx).Error("notify associations", "node", n.ID, "error", err)
		}
	})
}

// publishNode mirrors a node's spec into the memo and search attributes.
func publishNode(ctx workflow.Context, n node.Node) error {
	if err := workflow.UpsertTypedSearchAttributes(ctx, NodeSearchAttributes(n)...); err != nil {
		return fmt.Errorf("publish node search attributes: %w", err)
	}
	if err := workflow.UpsertMemo(ctx, map[string]any{contract.NodeMemoKey: n}); err != nil {
		return fmt.Errorf("publish node memo: %w", err)
	}
	return nil
}

// NodeSearchAttributes are the search attributes a node workflow publishes
// for n: what targeting queries.
func NodeSearchAttributes(n node.Node) []temporal.SearchAttributeUpdate {
	region := n.Region
	if region == "" {
		region = contract.DefaultRegion
	}
	updates := []temporal.SearchAttributeUpdate{
		contract.AttrNodeID.ValueSet(n.ID),
		contract.AttrRegion.ValueSet(region),
		contract.AttrPlatform.ValueSet(n.Platform),
		contract.AttrShard.ValueSet(contract.NodeShard(n.ID)),
	}
	if tags := n.TagList(); len(tags) > 0 {
		return append(updates, contract.AttrTags.ValueSet(tags))
	}
	return append(updates, contract.AttrTags.ValueUnset())
}

// nodeChange is a node change for the audit log.
func nodeChange(op, id, by string) activities.ChangeInput {
	return activities.ChangeInput{Operation: op, ResourceType: contract.AuditResourceNode, ResourceName: id, By: by}
}

// appendBounded appends v and keeps only the newest max entries.
func appendBounded[T any](s []T, v T, max int) []T {
	s = append(s, v)
	if len(s) > max {
		s = append([]T(nil), s[len(s)-max:]...)
	}
	return s
}
