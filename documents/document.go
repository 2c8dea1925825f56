package documents

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Schema versions of Command documents. Stead runs all three: 1.2 documents declare
// plugins under runtimeConfig, 2.0 and 2.2 documents list steps under mainSteps, and only
// 2.2 evaluates preconditions. Every schema is translated into the same steps, so that
// everything after Parse sees one model.
const (
	SchemaVersion12 = "1.2"
	SchemaVersion20 = "2.0"
	SchemaVersion22 = "2.2"
	// SchemaVersion is the schema Stead's own documents use and recommends.
	SchemaVersion = SchemaVersion22
)

// SchemaVersions are the Command document schemas, oldest first.
var SchemaVersions = []string{SchemaVersion12, SchemaVersion20, SchemaVersion22}

// Document is a parsed SSM Command document. It mirrors the content faithfully, except
// that a schema 1.2 runtimeConfig is read as the steps it stands for; call Validate (or
// use Check) before relying on it.
type Document struct {
	SchemaVersion string
	Description   string
	// Parameters are the values a caller may or must supply, by name.
	Parameters map[string]Parameter
	// MainSteps run in order on each target. For schema 1.2 they are the runtimeConfig
	// plugins in name order (SSM promises no order for them), one step per properties
	// entry.
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

// Step is one entry of mainSteps (or one properties entry of a 1.2 runtimeConfig
// plugin): a plugin (action) and its inputs.
type Step struct {
	Action      string // the plugin, e.g. aws:runShellScript
	Name        string
	Description string
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
	// IsEnd ends the document after this step, whether it succeeded or failed (as in
	// Automation runbooks, where SSM documents the key).
	IsEnd bool
	// StartedByWorker, a Stead key, makes the worker start this step over a
	// round trip of its own: a node running steps in one session never goes
	// on to it by itself. A step that must prove the worker still reaches
	// the node (after a network change) needs that.
	StartedByWorker bool
	// where names a step read from a 1.2 runtimeConfig in messages, since its name is
	// Stead's, not the author's.
	where string
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
// refused. Keys a Command document cannot have are errors, all reported at once in a
// *ValidationError. Parse does not check semantics: call Validate, or Check, which
// reports the problems of both stages together.
func Parse(data []byte) (*Document, error) {
	doc, problems, err := parse(data)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return doc, nil
}

// Check parses and validates content and reports every problem of both stages at once (a
// *ValidationError), with the warnings of a document that validates. A syntax error stops
// it early: nothing after it can be read.
func Check(data []byte) (*Document, []Warning, error) {
	doc, problems, err := parse(data)
	if err != nil {
		return nil, nil, err
	}
	warnings, verrs := doc.check()
	problems = append(problems, verrs...)
	if len(problems) > 0 {
		return nil, warnings, &ValidationError{Problems: problems}
	}
	return doc, warnings, nil
}

// parse decodes content and builds the document, returning it with its shape problems.
func parse(data []byte) (*Document, []error, error) {
	if len(data) > maxContentBytes {
		return nil, nil, fmt.Errorf("document is %d bytes, more than the %d allowed", len(data), MaxDocumentSize)
	}
	tree, err := decodeTree(data)
	if err != nil {
		return nil, nil, err
	}
	if size := contentSize(data); size > MaxDocumentSize {
		return nil, nil, fmt.Errorf("document is %d bytes, more than the %d allowed", size, MaxDocumentSize)
	}
	b := &builder{}
	doc := b.document(tree)
	if doc == nil {
		return nil, nil, &ValidationError{Problems: b.errs}
	}
	return doc, b.errs, nil
}

// ValidationError is every problem found in a document, each naming where it is. Its
// message shows the first MaxShownProblems and counts the rest, so that a document with
// thousands of mistakes still gives a message one can read.
type ValidationError struct {
	Problems []error
}

// MaxShownProblems is how many problems a ValidationError's message lists.
const MaxShownProblems = 20

// Error implements error: one problem a line.
func (e *ValidationError) Error() string {
	n := len(e.Problems)
	lines := make([]string, 0, min(n, MaxShownProblems)+1)
	for _, p := range e.Problems[:min(n, MaxShownProblems)] {
		lines = append(lines, p.Error())
	}
	if n > MaxShownProblems {
		lines = append(lines, fmt.Sprintf("... and %d more problems (%d in all)", n-MaxShownProblems, n))
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns every problem, so that errors.Is finds ErrUnsupported among them.
func (e *ValidationError) Unwrap() []error { return e.Problems }

// Warning is something a valid document does that Stead runs differently from SSM, or
// that is probably not what its author meant, with what to write instead.
type Warning struct {
	Where string // the parameter or step, e.g. "step install"
	// Line is the line of the step's script the warning is about (1-based), 0 when it is
	// not about a script line.
	Line    int
	Message string
}

// String is the warning as one line.
func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", w.Where, w.Line, w.Message)
	}
	return fmt.Sprintf("%s: %s", w.Where, w.Message)
}

// builder turns the decoded tree into a Document, collecting every shape problem.
type builder struct {
	errs []error
}

func (b *builder) addf(format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf(format, args...))
}

// The keys SSM accepts in Command documents (AWS's "Data elements and parameters", "Command
// document plugin reference", and the documents SSM itself publishes).
var (
	// $schema appears in documents written with an editor's JSON schema; SSM ignores it.
	documentKeys  = []string{"schemaVersion", "description", "parameters", "mainSteps", "runtimeConfig", "$schema"}
	parameterKeys = []string{"type", "description", "default", "allowedValues", "allowedPattern", "displayType",
		"minItems", "maxItems", "minChars", "maxChars", "interpolationType", "secret"}
	// settings appears (as null) in documents the SSM agent hands to plugins; it carries nothing for Stead.
	stepKeys = []string{"action", "name", "description", "precondition", "inputs", "timeoutSeconds", "maxAttempts",
		"onFailure", "onSuccess", "finallyStep", "isEnd", "settings", "startedByWorker"}
	// pluginConfigKeys are the keys of one plugin under a 1.2 runtimeConfig.
	pluginConfigKeys = []string{"properties", "settings", "description"}
	// foreignKeys belong to other kinds of SSM documents: a precise refusal beats a guess.
	foreignDocumentKeys = map[string]string{
		"assumeRole": "Automation runbooks (schemaVersion 0.3)", "outputs": "Automation runbooks (schemaVersion 0.3)",
		"files": "Automation runbooks (schemaVersion 0.3)", "sessionType": "Session documents",
	}
	foreignStepKeys = map[string]string{
		"nextStep": "Automation runbook steps", "isCritical": "Automation runbook steps",
		"onCancel": "Automation runbook steps", "outputs": "Automation runbook steps",
	}
)

// unknownKeys reports keys of m outside known, suggesting the nearest known key.
func (b *builder) unknownKeys(where string, m map[string]any, known []string, foreign map[string]string) {
	for _, k := range sortedKeys(m) {
		switch kind, isForeign := foreign[k]; {
		case contains(known, k):
		case isForeign:
			b.addf("%s%s: a key of %s, not of Command documents", where, k, kind)
		default:
			b.addf("%s%s", where, unknownKeyMessage(k, "key", known))
		}
	}
}

func (b *builder) document(tree any) *Document {
	m, ok := tree.(map[string]any)
	if !ok {
		b.addf("document must be a mapping, got %s", kindOf(tree))
		return nil
	}
	b.unknownKeys("", m, documentKeys, foreignDocumentKeys)
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
	b.str("$schema", m["$schema"])

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

	legacy := doc.SchemaVersion == SchemaVersion12
	if _, has := m["mainSteps"]; has && legacy {
		b.addf("mainSteps: schemaVersion 1.2 documents have runtimeConfig instead; mainSteps needs schemaVersion 2.0 or 2.2")
	}
	if _, has := m["runtimeConfig"]; has && contains(SchemaVersions, doc.SchemaVersion) && !legacy {
		b.addf("runtimeConfig: only schemaVersion 1.2 documents have it; schemaVersion %s documents have mainSteps", doc.SchemaVersion)
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
	if rc, has := m["runtimeConfig"]; has {
		doc.MainSteps = append(doc.MainSteps, b.runtimeConfig(rc)...)
	}
	return doc
}

// runtimeConfig reads a 1.2 runtimeConfig as steps: one per entry of each plugin's
// properties (a single mapping is one entry), the plugins in name order. A step is named
// after its plugin ("runShellScript"), with "-<index>" when the plugin has several entries.
func (b *builder) runtimeConfig(v any) []Step {
	m, ok := v.(map[string]any)
	if !ok {
		b.addf("runtimeConfig: must be a mapping of plugins, got %s", kindOf(v))
		return nil
	}
	var steps []Step
	for _, plugin := range sortedKeys(m) {
		where := "runtimeConfig." + shortText(plugin)
		cfg, ok := m[plugin].(map[string]any)
		if !ok {
			b.addf("%s: must be a mapping, got %s", where, kindOf(m[plugin]))
			continue
		}
		b.unknownKeys(where+": ", cfg, pluginConfigKeys, nil)
		b.str(where+": description", cfg["description"])
		var entries []any
		switch p := cfg["properties"].(type) {
		case nil: // one step without inputs: validation says what the plugin misses
			entries = []any{nil}
		case []any:
			if len(p) == 0 {
				b.addf("%s: properties: must not be empty", where)
			}
			entries = p
		default: // a mapping, or a plugin's own form (aws:cloudWatch takes JSON text)
			entries = []any{p}
		}
		name := stepNameFor(plugin)
		for i, e := range entries {
			s := Step{Action: plugin, Name: name, where: fmt.Sprintf("%s.properties[%d]", where, i)}
			if len(entries) > 1 {
				s.Name = fmt.Sprintf("%s-%d", name, i)
			}
			switch in := e.(type) {
			case map[string]any:
				s.Inputs = in
			case nil:
			default:
				if contains(runnableActions, plugin) {
					b.addf("%s: must be a mapping, got %s", s.where, kindOf(e))
				}
			}
			steps = append(steps, s)
		}
	}
	return steps
}

// stepNameFor is the name of a step read from a 1.2 plugin: the plugin's name without
// its aws: prefix, with any character a step name cannot have replaced by '-'.
func stepNameFor(plugin string) string {
	name := []rune(strings.TrimPrefix(plugin, "aws:"))
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			name[i] = '-'
		}
	}
	if len(name) > 100 {
		name = name[:100]
	}
	if len(name) == 0 || name[0] == '-' || name[0] == '_' || name[0] == '.' {
		return "plugin" + string(name)
	}
	return string(name)
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
			b.addf("%s: must be an integer, got %s", where, quoteShort(n))
			return nil
		}
		return &i
	default:
		b.addf("%s: must be an integer, got %s", where, kindOf(v))
		return nil
	}
}

func (b *builder) parameter(name string, v any) (Parameter, bool) {
	where := "parameter " + shortText(name)
	m, ok := v.(map[string]any)
	if !ok {
		b.addf("%s: must be a mapping, got %s", where, kindOf(v))
		return Parameter{}, false
	}
	b.unknownKeys(where+": ", m, parameterKeys, nil)
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
	where := stepLabel(i, s)
	b.unknownKeys(where+": ", m, stepKeys, foreignStepKeys)
	s.Action = b.str(where+": action", m["action"])
	s.Description = b.str(where+": description", m["description"])
	s.OnFailure = b.str(where+": onFailure", m["onFailure"])
	s.OnSuccess = b.str(where+": onSuccess", m["onSuccess"])
	s.FinallyStep = b.boolValue(where+": finallyStep", m["finallyStep"])
	s.IsEnd = b.boolValue(where+": isEnd", m["isEnd"])
	s.StartedByWorker = b.boolValue(where+": startedByWorker", m["startedByWorker"])
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
			b.addf("%s: precondition: %s: must be a list of operands, got %s", where, shortText(op), kindOf(operands))
			return nil
		}
		pc := &Precondition{Operator: op}
		for _, o := range list {
			switch o.(type) {
			case map[string]any, []any:
				b.addf("%s: precondition: %s: operands must be strings, got %s", where, shortText(op), kindOf(o))
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
		return fmt.Sprintf("%s: unknown %s; did you mean %s?", shortText(key), what, near)
	}
	return fmt.Sprintf("%s: unknown %s; known: %s", shortText(key), what, strings.Join(known, ", "))
}

// shortText cuts text a message repeats (a key, a name) to a readable length.
func shortText(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + "..."
	}
	return s
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
