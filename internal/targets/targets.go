// Package targets parses SSM-style association targets
// ("Key=tag:role,Values=web,db", "Key=InstanceIds,Values=web-1,web-2") and
// turns them into the Temporal visibility query that finds the matching
// node workflows: targeting is a search, not a scan of every node.
package targets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/visibility"
)

// KeyInstanceIDs selects nodes by id; the value "*" selects every node.
const KeyInstanceIDs = "InstanceIds"

// tagPrefix starts a key that selects nodes by tag.
const tagPrefix = "tag:"

// maxValues bounds one target's value list, as SSM does for tag values.
const maxValues = 50

// Target is one targeting rule. Values within a rule are OR'ed; several
// rules are AND'ed.
type Target struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// String renders the target in the flag form it was parsed from.
func (t Target) String() string {
	return "Key=" + t.Key + ",Values=" + strings.Join(t.Values, ",")
}

// Parse reads one --targets flag value.
func Parse(s string) (Target, error) {
	rest, ok := strings.CutPrefix(s, "Key=")
	if !ok {
		return Target{}, fmt.Errorf("targets %q: want Key=tag:NAME,Values=a,b or Key=InstanceIds,Values=id1,id2", s)
	}
	key, vals, ok := strings.Cut(rest, ",Values=")
	if !ok {
		return Target{}, fmt.Errorf("targets %q: missing ,Values=", s)
	}
	t := Target{Key: key}
	if vals != "" {
		t.Values = strings.Split(vals, ",")
	}
	if err := t.Validate(); err != nil {
		return Target{}, fmt.Errorf("targets %q: %w", s, err)
	}
	return t, nil
}

// Validate checks one target.
func (t Target) Validate() error {
	if len(t.Values) == 0 {
		return errors.New("no values")
	}
	if len(t.Values) > maxValues {
		return fmt.Errorf("%d values: at most %d", len(t.Values), maxValues)
	}
	switch {
	case t.Key == KeyInstanceIDs:
		if slices.Contains(t.Values, "*") {
			if len(t.Values) > 1 {
				return errors.New("InstanceIds: '*' cannot be combined with ids")
			}
			return nil
		}
		for _, v := range t.Values {
			if err := node.ValidID(v); err != nil {
				return err
			}
		}
	case strings.HasPrefix(t.Key, tagPrefix):
		k := strings.TrimPrefix(t.Key, tagPrefix)
		for _, v := range t.Values {
			// Both are slips of the hand (Values=a,,b or Values==web), and
			// a target that matches nodes tagged "" would be a surprise.
			switch {
			case v == "":
				return fmt.Errorf("%s: an empty value (two commas in a row?)", t.Key)
			case strings.HasPrefix(v, "="):
				return fmt.Errorf("%s value %q: a value cannot start with '='", t.Key, v)
			}
			if err := node.ValidTag(k, v); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("key %q: want tag:NAME or InstanceIds", t.Key)
	}
	return nil
}

// ValidateAll checks a whole target list, returning every problem at once.
func ValidateAll(ts []Target) error {
	if len(ts) == 0 {
		return errors.New("no targets: give at least one --targets")
	}
	if len(ts) > 5 {
		return fmt.Errorf("%d targets: at most 5", len(ts))
	}
	var errs []error
	for _, t := range ts {
		if err := t.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("targets %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// InstanceIDs returns the explicit node ids the targets name (not "*").
func InstanceIDs(ts []Target) []string {
	var ids []string
	for _, t := range ts {
		if t.Key == KeyInstanceIDs && !slices.Contains(t.Values, "*") {
			ids = append(ids, t.Values...)
		}
	}
	return ids
}

// NodeQuery returns the visibility query that selects the registered nodes
// matching every target; no targets selects every node. Values are
// validated to a character set without quotes, so quoting them is safe.
func NodeQuery(ts []Target) (string, error) {
	clauses := []string{"WorkflowType = '" + contract.NodeWorkflow + "'", "ExecutionStatus = 'Running'", "SteadNodeId IS NOT NULL"}
	if len(ts) > 0 {
		if err := ValidateAll(ts); err != nil {
			return "", err
		}
	}
	for _, t := range ts {
		var vals []string
		attr := "SteadNodeId"
		if t.Key == KeyInstanceIDs {
			if t.Values[0] == "*" {
				continue
			}
			vals = t.Values
		} else {
			attr = "SteadTags"
			k := strings.TrimPrefix(t.Key, tagPrefix)
			for _, v := range t.Values {
				vals = append(vals, k+"="+v)
			}
		}
		clauses = append(clauses, visibility.In(attr, vals))
	}
	return strings.Join(clauses, " AND "), nil
}

// Match reports whether a node with this id and these tags satisfies every
// target: the same rule the visibility query applies, evaluated in memory
// when a node appears or changes.
func Match(id string, tags map[string]string, ts []Target) bool {
	if len(ts) == 0 {
		return false
	}
	for _, t := range ts {
		var ok bool
		switch {
		case t.Key == KeyInstanceIDs:
			ok = slices.Contains(t.Values, "*") || slices.Contains(t.Values, id)
		case strings.HasPrefix(t.Key, tagPrefix):
			v, has := tags[strings.TrimPrefix(t.Key, tagPrefix)]
			ok = has && slices.Contains(t.Values, v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// EachAssociation calls fn with the workflow id and targets of every
// running association, read from the targets their workflows publish in
// their memo: how a node that appears or changes finds the associations it
// matches.
func EachAssociation(ctx context.Context, c client.Client, namespace string, dc converter.DataConverter, fn func(workflowID string, ts []Target) error) error {
	return visibility.Each(ctx, c, namespace,
		"WorkflowType = '"+contract.AssociationWorkflow+"' AND ExecutionStatus = 'Running'", "associations",
		func(e *workflowpb.WorkflowExecutionInfo) error {
			p := e.GetMemo().GetFields()[contract.AssociationTargetsMemoKey]
			if p == nil {
				return nil
			}
			var ts []Target
			if err := dc.FromPayload(p, &ts); err != nil {
				return fmt.Errorf("decode targets of %s: %w", e.GetExecution().GetWorkflowId(), err)
			}
			return fn(e.GetExecution().GetWorkflowId(), ts)
		})
}
