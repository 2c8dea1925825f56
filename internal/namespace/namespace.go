package namespace

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// DefaultRetention is how long a namespace Setup creates keeps closed
// histories: long enough to audit a month of runs.
const DefaultRetention = 30 * 24 * time.Hour

// pollInterval paces the waits for a new namespace or new attributes to be
// served: the frontend serves both from caches refreshed in the background.
const pollInterval = 100 * time.Millisecond

// Spec is what a namespace must be.
type Spec struct {
	// Name is the namespace.
	Name string
	// Retention is how long closed workflow histories are kept. Zero keeps
	// an existing namespace's retention and gives a new one DefaultRetention.
	Retention time.Duration
	// SearchAttributes are registered if missing (normally
	// contract.SearchAttributes()).
	SearchAttributes map[string]enumspb.IndexedValueType
}

// Report says what Setup found and did.
type Report struct {
	// Namespace is the namespace set up.
	Namespace string
	// Created is true when the namespace did not exist.
	Created bool
	// Retention is the namespace's retention after Setup.
	Retention time.Duration
	// RetentionChanged is true when an existing namespace's retention was
	// changed to Spec.Retention.
	RetentionChanged bool
	// Added are the search attributes registered by this run, sorted.
	Added []string
	// Present are the search attributes that were already registered, sorted.
	Present []string
}

// Setup makes the namespace match spec, creating what is missing. The
// caller needs the rights to register and update namespaces and to add
// search attributes; an error names the call that was refused.
func Setup(ctx context.Context, wf workflowservice.WorkflowServiceClient, op operatorservice.OperatorServiceClient, spec Spec) (Report, error) {
	if spec.Name == "" {
		return Report{}, errors.New("set up namespace: a namespace name is required")
	}
	if spec.Retention < 0 {
		return Report{}, fmt.Errorf("set up namespace %s: retention %s is negative", spec.Name, spec.Retention)
	}
	rep, err := ensureNamespace(ctx, wf, spec)
	if err != nil {
		return rep, err
	}
	rep.Added, rep.Present, err = ensureSearchAttributes(ctx, op, spec.Name, spec.SearchAttributes)
	return rep, err
}

// ensureNamespace registers the namespace if it is missing and sets its
// retention when the spec names one that differs.
func ensureNamespace(ctx context.Context, wf workflowservice.WorkflowServiceClient, spec Spec) (Report, error) {
	rep := Report{Namespace: spec.Name}
	desc, err := wf.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: spec.Name})
	if isNotFound(err) {
		retention := spec.Retention
		if retention == 0 {
			retention = DefaultRetention
		}
		_, err = wf.RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        spec.Name,
			Description:                      "Stead nodes, documents, associations and executions",
			WorkflowExecutionRetentionPeriod: durationpb.New(retention),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return rep, refused(spec.Name, "register the namespace", err)
		}
		rep.Created = err == nil
		desc, err = waitFor(ctx, func() (*workflowservice.DescribeNamespaceResponse, error) {
			return wf.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: spec.Name})
		})
	}
	if err != nil {
		return rep, refused(spec.Name, "describe the namespace", err)
	}
	rep.Retention = desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
	if spec.Retention == 0 || spec.Retention == rep.Retention {
		return rep, nil
	}
	_, err = wf.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: spec.Name,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(spec.Retention)},
	})
	if err != nil {
		return rep, refused(spec.Name, "update the namespace's retention", err)
	}
	rep.Retention, rep.RetentionChanged = spec.Retention, true
	return rep, nil
}

// ensureSearchAttributes adds the attributes of want that the namespace
// lacks, rejects any it has under another type, and waits until the
// frontend lists every one, so workflows started next may set them.
func ensureSearchAttributes(ctx context.Context, op operatorservice.OperatorServiceClient, ns string, want map[string]enumspb.IndexedValueType) (added, present []string, err error) {
	if len(want) == 0 {
		return nil, nil, nil
	}
	// A namespace registered a moment ago may not be in the frontend's
	// cache yet: NotFound until it is.
	resp, err := waitFor(ctx, func() (*operatorservice.ListSearchAttributesResponse, error) {
		return op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	})
	if err != nil {
		return nil, nil, refused(ns, "list search attributes", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		typ := want[name]
		if got, ok := resp.GetSystemAttributes()[name]; ok {
			return nil, nil, fmt.Errorf("register search attribute %s: the name is taken by a %s system attribute", name, got)
		}
		got, ok := resp.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = typ
			added = append(added, name)
		case got != typ:
			return nil, nil, fmt.Errorf("register search attribute %s as %s: it is already registered as %s", name, typ, got)
		default:
			present = append(present, name)
		}
	}
	if len(missing) == 0 {
		return nil, present, nil
	}
	_, err = op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: ns, SearchAttributes: missing})
	if err != nil {
		return nil, nil, refused(ns, "add search attributes "+strings.Join(added, ", "), err)
	}
	_, err = waitFor(ctx, func() (*operatorservice.ListSearchAttributesResponse, error) {
		resp, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		if err != nil {
			return nil, err
		}
		for _, name := range added {
			if _, ok := resp.GetCustomAttributes()[name]; !ok {
				return nil, serviceerror.NewNotFoundf("search attribute %s is not listed yet", name)
			}
		}
		return resp, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("wait for search attributes of %s to be listed: %w", ns, err)
	}
	return added, present, nil
}

// waitFor calls f until it returns something other than NotFound or ctx
// ends; the last result is returned.
func waitFor[T any](ctx context.Context, f func() (T, error)) (T, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		v, err := f()
		if !isNotFound(err) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%w; last answer: %w", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// isNotFound reports whether Temporal says the namespace (or what was
// asked of it) does not exist, yet.
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	var nsnf *serviceerror.NamespaceNotFound
	return errors.As(err, &nf) || errors.As(err, &nsnf)
}

// refused words a failed call: a refusal for lack of rights says so and
// what the caller needs, anything else is wrapped as is.
func refused(ns, doing string, err error) error {
	var denied *serviceerror.PermissionDenied
	var unimpl *serviceerror.Unimplemented
	switch {
	case errors.As(err, &denied):
		return fmt.Errorf("set up namespace %s: permission denied to %s (the caller needs namespace admin rights; on Temporal Cloud create the namespace and its search attributes with tcld or the console): %w", ns, doing, err)
	case errors.As(err, &unimpl):
		return fmt.Errorf("set up namespace %s: the server does not allow clients to %s (on Temporal Cloud use tcld or the console): %w", ns, doing, err)
	}
	return fmt.Errorf("set up namespace %s: %s: %w", ns, doing, err)
}
