package documents

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// LocalDocument is what the target needs to run an aws:runDocument step with documentType
// LocalPath: the document file exists only on the node, put there by an earlier
// aws:downloadContent step of the same run, so it cannot be rendered when the execution
// starts. Everything the caller's side decides is decided here, at plan time, so that the
// expansion on the node depends only on the file's content.
type LocalDocument struct {
	// Path is the document file on the node. A relative path is relative to the login's
	// home directory, as a relative aws:downloadContent destinationPath is, so that both
	// steps name the same file with the same string.
	Path string
	// Parameters is the step's documentParameters as a JSON object, the caller's
	// parameter values already substituted.
	Parameters string
	// DataParameters maps each documentParameters key whose value carries text of one of
	// the caller's data parameters to that parameter. The nested document is unknown
	// until it is read, so whether it runs such a key as code is checked then: a data
	// value never becomes code by crossing a document boundary.
	DataParameters map[string]string `json:",omitempty"`
	// Chain names the enclosing documents, outermost first, for the nesting limit and
	// cycle check the file's own aws:runDocument steps are subject to.
	Chain []string
}

// localChainName is how a LocalPath document appears in a nesting chain.
func localChainName(path string) string { return "LocalPath:" + path }

// renderLocalPath fills the plan step of an aws:runDocument step with documentType
// LocalPath: it carries what reading and rendering the file on the node needs.
func (d *Document) renderLocalPath(ps PlanStep, s Step, docPath string, values map[string]resolved, x expansion) ([]PlanStep, error) {
	if strings.IndexByte(docPath, 0) >= 0 {
		return nil, fmt.Errorf("%s: contains a NUL byte", inputDocumentPath)
	}
	chain := append(append([]string(nil), x.chain...), localChainName(docPath))
	if len(chain) > MaxNesting+1 {
		return nil, fmt.Errorf("aws:runDocument nests %s deeper than %d documents: %s", localChainName(docPath), MaxNesting, strings.Join(chain, " -> "))
	}
	raw, err := d.objectInput(s.Inputs[inputDocumentParameters], inputDocumentParameters, values)
	if err != nil {
		return nil, err
	}
	// A documentParameters that is one StringMap placeholder is the caller's map, passed on
	// as given (see renderRunDocument); otherwise note every key that carries data.
	whole := isPlaceholder(s.Inputs[inputDocumentParameters])
	var data map[string]string
	for _, k := range sortedKeys(raw) {
		if whole {
			break
		}
		walkStrings(raw[k], func(str string) {
			if p, ok := wholePlaceholder(str); ok && d.isCode(p) {
				return // the caller's code, passed on whole
			}
			for _, p := range placeholderNames(str) {
				if _, seen := data[k]; !seen {
					if data == nil {
						data = map[string]string{}
					}
					data[k] = p
				}
			}
		})
	}
	params := raw
	if !whole {
		params, _ = substituteTree(raw, values).(map[string]any)
	}
	encoded, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("%s: encode: %w", inputDocumentParameters, err)
	}
	ps.LocalDocument = &LocalDocument{
		Path:           docPath,
		Parameters:     string(encoded),
		DataParameters: data,
		Chain:          append([]string(nil), x.chain...),
	}
	return []PlanStep{ps}, nil
}

// RenderLocal renders content, the document file an aws:runDocument LocalPath step read
// from the node, into the steps that run in that step's place: named "<step>.<nested
// step>", with the step's documentParameters, under the same rules as a nested registered
// document (parameter checks, data never becoming code, at most MaxNesting levels, no
// cycles). resolve finds the documents the file's own aws:runDocument steps name.
func RenderLocal(ps PlanStep, content []byte, resolve Resolver) ([]PlanStep, error) {
	ld := ps.LocalDocument
	if ld == nil {
		return nil, errors.New("step is not an aws:runDocument LocalPath step")
	}
	name := localChainName(ld.Path)
	chain := append(append([]string(nil), ld.Chain...), name)
	if contains(ld.Chain, name) {
		return nil, fmt.Errorf("aws:runDocument cycle: %s", strings.Join(chain, " -> "))
	}
	if len(chain) > MaxNesting+1 {
		return nil, fmt.Errorf("aws:runDocument nests %s deeper than %d documents: %s", name, MaxNesting, strings.Join(chain, " -> "))
	}
	doc, err := checked(ld.Path, content)
	if err != nil {
		return nil, err
	}
	var params map[string]any
	if ld.Parameters != "" {
		tree, err := decodeJSON([]byte(ld.Parameters))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", inputDocumentParameters, err)
		}
		params, _ = tree.(map[string]any)
	}
	code := doc.codeParameters()
	for _, k := range sortedKeys(ld.DataParameters) {
		if code[k] {
			return nil, fmt.Errorf("%s: %s: {{ %s }} would become code in document %s; pass it to a parameter the document uses as data", inputDocumentParameters, k, ld.DataParameters[k], ld.Path)
		}
	}
	values, errs := resolveParameters(doc, params)
	if len(errs) > 0 {
		return nil, fmt.Errorf("parameters of document %s: %w", ld.Path, errors.Join(errs...))
	}
	steps, err := doc.renderSteps(values, expansion{resolve: resolve, chain: chain})
	if err != nil {
		return nil, fmt.Errorf("document %s: %w", ld.Path, err)
	}
	nestSteps(ps, steps, fmt.Sprintf("%s %s", name, Hash(content)))
	return steps, nil
}
