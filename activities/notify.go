package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/targets"
)

// NotifyInput is a node that was registered or changed, and what it was
// before (nil when it is new).
type NotifyInput struct {
	Node     node.Node  `json:"node"`
	Previous *node.Node `json:"previous,omitempty"`
	// At is when the node was registered or changed.
	At time.Time `json:"at"`
}

// NotifyAssociations tells every association whose targets the node now
// matches, and did not match before, so it applies itself to the node at
// once instead of at its next scheduled run: this is how a new host is
// bootstrapped. It returns the associations told.
func (a *Activities) NotifyAssociations(ctx context.Context, in NotifyInput) ([]string, error) {
	a.nodeChanged(ctx, in.Node, in.Previous, in.At)
	var told []string
	err := targets.EachAssociation(ctx, a.Client, a.Namespace, a.converter(), func(id string, ts []targets.Target) error {
		if !targets.Match(in.Node.ID, in.Node.Tags, ts) {
			return nil
		}
		if in.Previous != nil && targets.Match(in.Previous.ID, in.Previous.Tags, ts) {
			return nil
		}
		err := a.Client.SignalWorkflow(ctx, id, "", contract.SignalNodeMatched, contract.NodeMatched{NodeID: in.Node.ID, At: in.At})
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("signal %s: %w", id, err)
		}
		told = append(told, id)
		return nil
	})
	return told, err
}
