package documents

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// SchemaVersion is the only SSM document schema Stead runs: Command documents with
// mainSteps and per-step preconditions.
const SchemaVersion = "2.2"

// Document is a parsed SSM Command document (schemaVersion 2.2). It mirrors the content
// faithfully; call Validate before relying on it.
type Document struct {
	SchemaVersion string
	Description   string
	// Parameters are the values a caller may or must supply, by name.
	Parameters map[string]Parameter
	// MainSteps run in order on each target.
	MainSteps []Step
}

// Parameter declares one document parameter: its type and the constraints a value must
// meet before any step sees it.
type Parameter struct {
	// Type is one of String, StringList, Integer, Boolean, StringMap, MapList.
	Type           string
	Description    string
	AllowedPattern string // a regular expression the whole value (each item of a list) must match
	DisplayType    string // console hint ("textarea"); kept for round trips, not interpreted
	// Default is the value used when the caller gives none; nil means the parameter is required.
	Default       any
	AllowedValues []any
	// MinItems and MaxItems bound the length of StringList and MapList values.
	MinItems, MaxItems *int
	// MinChars and MaxChars bound the length in characters of a String value (each item of a StringList).
	MinChars, MaxChars *int
	// InterpolationType "ENV_VAR" makes the value always available to scripts as the
	// environment variable SSM_<name>, and never code even as a whole runCommand element.
	InterpolationType string
	// Secret is a Stead extension ("secret": true; SSM documents do not have it): the
	// value still reaches the step, but only as its SSM_<name> environment variable, and
	// the worker replaces it with *** in captured output, errors and logs, and read
	// commands show *** instead. A value given as {{ssm-secure:NAME}} is secret whatever
	// this says.
	Secret bool
}

// Step is one entry of mainSteps: a plugin (action) and its inputs.
type Step struct {
	Action string // the plugin, e.g. aws:runShellScript
	Name   string
	// Precondition limits the step to a platform or to certain parameter values; nil means always.
	Precondition *Precondition
	// Inputs are the plugin's inputs as written; placeholders are resolved by Render.
	Inputs map[string]any
	// TimeoutSeconds is the step-level timeout; 0 means unset.
	TimeoutSeconds int
	// MaxAttempts is how many times the step may run before it fails; 0 means once.
	MaxAttempts int
	OnFailure   string // "exit" or "successAndExit": stop the document after a failed step
	OnSuccess   string // "exit": stop the document after this step succeeds
	FinallyStep bool   // the last step runs even when an earlier one stopped the document
}

// Precondition is a step's condition as written: an operator and its operands. SSM (and
// Stead) only know StringEquals with two operands.
type Precondition struct {
	Operator string
	Operands []string
}

// Parse reads an SSM Command document from JSON or YAML content. Content whose first
// significant character is '{' is JSON, anything else is YAML. Syntax errors are
// *SyntaxError values carrying line and column; content larger than MaxDocumentSize is
// refused. Keys a 2.2 Command document cannot have are errors, all reported at once.
// Parse does not check semantics: call Validate.
func Parse(data []byte) (*Document, error) {
	if len(data) > MaxDocumentSize {
		return nil, fmt.Errorf("document is %d bytes, more than the %d allowed", len(data), MaxDocumentSize)
	}
	tree, err := decodeTree(data)
	if err != nil {
		return nil, err
	}
	b := &builder{}
	doc := b.document(tree)
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	return doc, nil
}

// builder turns the decoded tree into a Document, collecting every shape problem.
type builder struct {
	errs []error
}

func (b *builder) addf(format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf(format, args...))
}

var (
	documentKeys  = []string{"schemaVersion", "description", "parameters", "mainSteps"}
	parameterKeys = []string{"type", "description", "default", "allowedValues", "allowedPattern", "displayType",
		"minItems", "maxItems", "minChars", "maxChars", "interpolationType", "secret"}
	// settings appears (as null) in documents the SSM agent hands to plugins; it carries nothing for Stead.
	stepKeys = []string{"action", "name", "precondition", "inputs", "timeoutSeconds", "maxAttempts",
		"onFailure", "onSuccess", "finallyStep", "settings"}
)

// unknownKeys reports keys of m outside known, suggesting the nearest known key.
func (b *builder) unknownKeys(where string, m map[string]any, known []string) {
	for _, k := range sortedKeys(m) {
		if !contains(known, k) {
			b.errs = append(b.errs, fmt.Errorf("%s%s", where, unknownKeyMessage(k, "key", known)))
		}
	}
}

func (b *builder) document(tree any) *Document {
	m, ok := tree.(map[string]any)
	if !ok {
		b.addf("document must be a mapping, got %s", kindOf(tree))
		return nil
	}
	b.unknownKeys("", m, documentKeys)
	doc := &Document{Parameters: map[string]Parameter{}}
	switch v := m["schemaVersion"].(type) {
	case nil:
	case string:
		doc.SchemaVersion = v
	case float64, int64:
		// An unquoted 2.2 in YAML is a number; read it as the version it plainly means.
		doc.SchemaVersion = scalarText(v)
	default:
		b.addf("schemaVersion: must be a string, got %s", kindOf(v))
	}
	doc.Description = b.str("description", m["description"])

	switch ps := m["parameters"].(type) {
	case nil:
	case map[string]any:
		for _, name := range sortedKeys(ps) {
			if p, ok := b.parameter(name, ps[name]); ok {
				doc.Parameters[name] = p
			}
		}
	default:
		b.addf("parameters: must be a mapping, got %s", kindOf(ps))
	}

	switch steps := m["mainSteps"].(type) {
	case nil:
	case []any:
		for i, s := range steps {
			doc.MainSteps = append(doc.MainSteps, b.step(i, s))
		}
	default:
		b.addf("mainSteps: must be a list, got %s", kindOf(steps))
	}
	return doc
}

func (b *builder) str(where string, v any) string {
	switch s := v.(type) {
	case nil:
		return ""
	case string:
		return s
	default:
		b.addf("%s: must be a string, got %s", where, kindOf(v))
		return ""
	}
}

// intValue reads a number or a numeric string; SSM documents write both.
func (b *builder) intValue(where string, v any) *int {
	switch n := v.(type) {
	case nil:
		return nil
	case int64:
		if n > math.MaxInt32 || n < math.MinInt32 {
			b.addf("%s: %d is out of range", where, n)
			return nil
		}
		i := int(n)
		return &i
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil || i > math.MaxInt32 || i < math.MinInt32 {
			b.addf("%s: must be an integer, got %q", where, n)
			return nil
		}
		return &i
	default:
		b.addf("%s: must be an integer, got %s", where, kindOf(v))
		return nil
	}
}

func (b *builder) parameter(name string, v any) (Parameter, bool) {
	where := "parameter " + name
	m, ok := v.(map[string]any)
	if !ok {
		b.addf("%s: must be a mapping, got %s", where, kindOf(v))
		return Parameter{}, false
	}
	b.unknownKeys(where+": ", m, parameterKeys)
	p := Parameter{
		Type:              b.str(where+": type", m["type"]),
		Description:       b.str(where+": description", m["description"]),
		AllowedPattern:    b.str(where+": allowedPattern", m["allowedPattern"]),
		DisplayType:       b.str(where+": displayType", m["displayType"]),
		Default:           m["default"],
		MinItems:          b.intValue(where+": minItems", m["minItems"]),
		MaxItems:          b.intValue(where+": maxItems", m["maxItems"]),
		MinChars:          b.intValue(where+": minChars", m["minChars"]),
		MaxChars:          b.intValue(where+": maxChars", m["maxChars"]),
		InterpolationType: b.str(where+": interpolationType", m["interpolationType"]),
		Secret:            b.boolValue(where+": secret", m["secret"]),
	}
	switch av := m["allowedValues"].(type) {
	case nil:
	case []any:
		p.AllowedValues = av
	default:
		b.addf("%s: allowedValues: must be a list, got %s", where, kindOf(av))
	}
	return p, true
}

func (b *builder) step(i int, v any) Step {
	m, ok := v.(map[string]any)
	if !ok {
		b.addf("mainSteps[%d]: must be a mapping, got %s", i, kindOf(v))
		return Step{}
	}
	var s Step
	s.Name = b.str(fmt.Sprintf("mainSteps[%d]: name", i), m["name"])
	where := fmt.Sprintf("mainSteps[%d]", i)
	if s.Name != "" {
		where = "step " + s.Name
	}
	b.unknownKeys(where+": ", m, stepKeys)
	s.Action = b.str(where+": action", m["action"])
	s.OnFailure = b.str(where+": onFailure", m["onFailure"])
	s.OnSuccess = b.str(where+": onSuccess", m["onSuccess"])
	s.FinallyStep = b.boolValue(where+": finallyStep", m["finallyStep"])
	if t := m["timeoutSeconds"]; t != nil {
		if text, ok := t.(string); ok && placeholderRE.MatchString(text) {
			b.addf("%s: timeoutSeconds: must be a number; put a parameter placeholder in inputs.timeoutSeconds instead", where)
		} else if n := b.intValue(where+": timeoutSeconds", t); n != nil {
			s.TimeoutSeconds = *n
		}
	}
	if n := b.intValue(where+": maxAttempts", m["maxAttempts"]); n != nil {
		s.MaxAttempts = *n
	}
	switch in := m["inputs"].(type) {
	case nil:
	case map[string]any:
		s.Inputs = in
	default:
		b.addf("%s: inputs: must be a mapping, got %s", where, kindOf(in))
	}
	if pc := m["precondition"]; pc != nil {
		s.Precondition = b.precondition(where, pc)
	}
	return s
}

func (b *builder) boolValue(where string, v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		if bv, err := strconv.ParseBool(x); err == nil {
			return bv
		}
	}
	b.addf("%s: must be true or false, got %s", where, kindOf(v))
	return false
}

func (b *builder) precondition(where string, v any) *Precondition {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		b.addf("%s: precondition: must be a mapping with exactly one operator, e.g. StringEquals: [platformType, Linux]", where)
		return nil
	}
	for op, operands := range m { // exactly one entry
		list, ok := operands.([]any)
		if !ok {
			b.addf("%s: precondition: %s: must be a list of operands, got %s", where, op, kindOf(operands))
			return nil
		}
		pc := &Precondition{Operator: op}
		for _, o := range list {
			switch o.(type) {
			case map[string]any, []any:
				b.addf("%s: precondition: %s: operands must be strings, got %s", where, op, kindOf(o))
				return nil
			}
			pc.Operands = append(pc.Operands, scalarText(o))
		}
		return pc
	}
	return nil
}

// kindOf names the shape of a decoded value for error messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64, int:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// scalarText is the text form of a decoded scalar, as SSM would show it.
func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unknownKeyMessage says that key is not one of known, and which one was probably meant.
func unknownKeyMessage(key, what string, known []string) string {
	if near := nearest(key, known); near != "" {
		return fmt.Sprintf("%s: unknown %s; did you mean %s?", key, what, near)
	}
	return fmt.Sprintf("%s: unknown %s; known: %s", key, what, strings.Join(known, ", "))
}

// nearest returns the candidate closest to s by edit distance (case-insensitively), or ""
// when none is close enough to be a plausible typo.
func nearest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := max(1, min(3, len([]rune(s))/3))
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, by runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
