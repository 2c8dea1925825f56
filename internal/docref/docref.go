// Package docref checks the document an association names — NAME or
// NAME:VERSION — against the built-in documents and the registry: that it
// exists and that the association's parameters fit it. Clients run the
// check before they create an association, and the association workflow
// runs it (through an activity) when it starts, so both refuse the same
// input with the same message.
package docref

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/problems"
)

// Check resolves ref with resolve and renders the document with params, as
// an execution will. It returns the reference to store: a built-in's
// canonical name, or the registered name with the version ref gave. A
// reference that cannot run is a *problems.Error naming the problem; any
// other error is the resolver's (the registry could not be read) and worth
// retrying.
func Check(ref string, params map[string]any, resolve documents.Resolver) (string, error) {
	name, version, err := documents.ParseRef(ref)
	if err != nil {
		return "", invalid(err)
	}
	// A resolver failure inside rendering (a nested document) is not the
	// document's fault: remember it, and return it rather than a verdict.
	var transient error
	tracking := func(name, version string) (documents.Source, error) {
		src, err := resolve(name, version)
		if err != nil && !errors.Is(err, documents.ErrNotFound) && transient == nil {
			transient = err
		}
		return src, err
	}
	src, err := tracking(name, version)
	if errors.Is(err, documents.ErrNotFound) {
		return "", invalid(fmt.Errorf("document %s not found (built-in documents: %s; `stead document list` shows registered ones)", ref, strings.Join(documents.BuiltinNames(), ", ")))
	}
	if err != nil {
		return "", err
	}
	if _, err := documents.RenderWith(src.Name, src.Content, params, tracking); err != nil {
		if transient != nil {
			return "", transient
		}
		return "", invalid(fmt.Errorf("document %s: %w", ref, err))
	}
	if canonical, _, ok := documents.Builtin(name); ok {
		name = canonical
	}
	if strings.Contains(ref, ":") {
		return name + ":" + version, nil
	}
	return name, nil
}

func invalid(err error) error {
	var l problems.List
	l.Add(err)
	return l.Err()
}
