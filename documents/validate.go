package documents

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Plugins Stead runs. Every other SSM plugin is refused with ErrUnsupported.
const (
	ActionRunShellScript      = "aws:runShellScript"
	ActionRunPowerShellScript = "aws:runPowerShellScript"
)

// ErrUnsupported is wrapped by the error for a step whose plugin Stead cannot run, so that
// callers can tell "valid SSM, not for Stead" from a broken document with errors.Is.
var ErrUnsupported = errors.New("not supported")

// Timeouts of a step, in seconds, as SSM defines them for the script plugins.
const (
	DefaultTimeoutSeconds = 3600
	MinTimeoutSeconds     = 5
	MaxTimeoutSeconds     = 172800
)

// Values of the flow-control fields of a step.
const (
	OnFailureExit           = "exit"
	OnFailureSuccessAndExit = "successAndExit"
	OnFailureContinue       = "continue" // run the next step; the document still ends Failed
	OnSuccessExit           = "exit"
)

const (
	inputRunCommand       = "runCommand"
	inputCommands         = "commands" // an alias of runCommand the SSM agent accepts
	inputWorkingDirectory = "workingDirectory"
	inputTimeoutSeconds   = "timeoutSeconds"
	inputOnFailure        = "onFailure"
	inputOnSuccess        = "onSuccess"
	inputFinallyStep      = "finallyStep"
	inputMaxAttempts      = "maxAttempts"
	inputID               = "id"
)

// scriptInputs are the inputs of aws:runShellScript and aws:runPowerShellScript, with the
// inputs SSM lets every plugin take: flow control, maxAttempts (as AWS's own documents
// write it), and id, which 1.2 documents carry and 2.x documents copied from them keep.
var scriptInputs = []string{inputRunCommand, inputCommands, inputWorkingDirectory, inputTimeoutSeconds,
	inputOnFailure, inputOnSuccess, inputFinallyStep, inputMaxAttempts, inputID}

// runnableActions are the plugins Stead runs.
var runnableActions = []string{ActionRunShellScript, ActionRunPowerShellScript, ActionRunDocument, ActionDownloadContent}

// platformNames maps the platformType values of SSM preconditions to Stead's platform names.
var platformNames = map[string]string{"Linux": "linux", "Windows": "windows", "MacOS": "macos"}

// stepNameRE keeps step names safe to use in paths and workflow ids.
var stepNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// Validate reports every problem of the document at once (a *ValidationError), each
// naming the parameter or step it is about. A document that validates can be rendered
// with any parameter values that satisfy its declarations.
func (d *Document) Validate() error {
	if _, errs := d.check(); len(errs) > 0 {
		return &ValidationError{Problems: errs}
	}
	return nil
}

// report collects a document's problems and warnings.
type report struct {
	errs     []error
	warnings []Warning
}

func (r *report) warn(where string, line int, format string, args ...any) {
	r.warnings = append(r.warnings, Warning{Where: where, Line: line, Message: fmt.Sprintf(format, args...)})
}

// check returns the warnings and the problems of a parsed document.
func (d *Document) check() ([]Warning, []error) {
	r := &report{}
	switch {
	case d.SchemaVersion == "":
		r.errs = append(r.errs, fmt.Errorf("schemaVersion: required (%s)", strings.Join(SchemaVersions, ", ")))
	case !contains(SchemaVersions, d.SchemaVersion):
		r.errs = append(r.errs, fmt.Errorf("schemaVersion: %s is not a schema of Command documents, which use %s", quoteShort(d.SchemaVersion), strings.Join(SchemaVersions, ", ")))
	}
	for _, name := range sortedKeys(d.Parameters) {
		d.checkDeclaration(r, name, d.Parameters[name])
	}
	if len(d.MainSteps) == 0 {
		if d.SchemaVersion == SchemaVersion12 {
			r.errs = append(r.errs, errors.New("runtimeConfig: at least one plugin is required"))
		} else {
			r.errs = append(r.errs, errors.New("mainSteps: at least one step is required"))
		}
	}
	seen := map[string]int{}
	for i, s := range d.MainSteps {
		d.checkStep(r, i, s, seen)
	}
	return r.warnings, r.errs
}

// stepLabel names a step in messages: by name, by its place in a 1.2 runtimeConfig, or by
// position when it has no usable name.
func stepLabel(i int, s Step) string {
	switch {
	case s.where != "":
		return s.where
	case s.Name == "":
		return fmt.Sprintf("mainSteps[%d]", i)
	case !stepNameRE.MatchString(s.Name):
		return fmt.Sprintf("mainSteps[%d] (name %s)", i, quoteShort(s.Name))
	default:
		return "step " + s.Name
	}
}

func (d *Document) checkStep(r *report, i int, s Step, seen map[string]int) {
	label := stepLabel(i, s)
	add := func(format string, args ...any) {
		r.errs = append(r.errs, fmt.Errorf(label+": "+format, args...))
	}
	switch j, dup := seen[s.Name]; {
	case s.Name == "":
		add("name is required")
	case dup:
		add("duplicate step name (also mainSteps[%d])", j)
	case !stepNameRE.MatchString(s.Name):
		add("name must be 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit")
	}
	if _, dup := seen[s.Name]; !dup && s.Name != "" {
		seen[s.Name] = i
	}
	switch s.Action {
	case ActionRunShellScript, ActionRunPowerShellScript:
		d.checkScriptInputs(r, label, s)
	case ActionRunDocument, ActionDownloadContent:
		if d.SchemaVersion == SchemaVersion12 {
			add("plugin %s needs schemaVersion 2.0 or later", s.Action)
		} else if s.Action == ActionRunDocument {
			r.errs = append(r.errs, d.checkRunDocumentInputs(label, s)...)
		} else {
			r.errs = append(r.errs, d.checkDownloadInputs(label, s)...)
		}
	case "":
		add("action is required")
	default:
		r.errs = append(r.errs, fmt.Errorf("%s: plugin %s is %w", label, shortText(s.Action), ErrUnsupported))
		// Its inputs are not Stead's to check, but a placeholder naming no parameter is
		// a mistake whatever the plugin (SSM refuses it too).
		for _, perr := range d.checkTreePlaceholders(s.Inputs) {
			add("inputs: %v", perr)
		}
	}
	if s.TimeoutSeconds != 0 {
		if err := checkTimeout(int64(s.TimeoutSeconds)); err != nil {
			add("timeoutSeconds: %v", err)
		}
	}
	control, cerrs := flowControl(s)
	for _, e := range cerrs {
		add("%v", e)
	}
	if control.finallyStep && i != len(d.MainSteps)-1 {
		r.warn(label, 0, "finallyStep is ignored: only the last step can be the finally step (the SSM agent ignores it too)")
	}
	if s.Precondition == nil {
		return
	}
	if d.SchemaVersion != SchemaVersion22 {
		r.warn(label, 0, "precondition is ignored: SSM evaluates preconditions only in schemaVersion 2.2 documents, and so does Stead")
		return
	}
	if _, err := d.checkPrecondition(*s.Precondition); err != nil {
		add("precondition: %v", err)
	}
	for _, o := range s.Precondition.Operands {
		for _, name := range placeholderNames(o) {
			if strings.HasPrefix(name, "ssm:") {
				r.warn(label, 0, "precondition: {{ %s }} reads Parameter Store, which Stead does not have: the step fails when it is reached; compare a document parameter instead", name)
			}
		}
	}
}

func checkTimeout(n int64) error {
	if n < MinTimeoutSeconds || n > MaxTimeoutSeconds {
		return fmt.Errorf("%d is outside %d..%d", n, MinTimeoutSeconds, MaxTimeoutSeconds)
	}
	return nil
}

// control is a step's effective flow control: the step-level fields and the shared inputs
// of the same name, which SSM accepts in either place.
type control struct {
	onFailure, onSuccess string
	finallyStep          bool
	maxAttempts          int
}

func flowControl(s Step) (control, []error) {
	var errs []error
	pick := func(field, stepValue string) string {
		v := stepValue
		if raw, ok := s.Inputs[field]; ok && raw != nil {
			in, isString := raw.(string)
			switch {
			case !isString:
				errs = append(errs, fmt.Errorf("%s: must be a string, got %s", field, kindOf(raw)))
			case v != "" && in != v:
				errs = append(errs, fmt.Errorf("%s: given as %s on the step and %s in inputs", field, quoteShort(v), quoteShort(in)))
			default:
				v = in
			}
		}
		return v
	}
	c := control{
		onFailure:   pick(inputOnFailure, s.OnFailure),
		onSuccess:   pick(inputOnSuccess, s.OnSuccess),
		finallyStep: s.FinallyStep,
		maxAttempts: s.MaxAttempts,
	}
	switch raw := s.Inputs[inputFinallyStep].(type) {
	case nil:
	case bool:
		c.finallyStep = c.finallyStep || raw
	case string:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: must be true or false, got %s", inputFinallyStep, quoteShort(raw)))
		}
		c.finallyStep = c.finallyStep || b
	default:
		errs = append(errs, fmt.Errorf("%s: must be true or false, got %s", inputFinallyStep, kindOf(raw)))
	}
	if raw, ok := s.Inputs[inputMaxAttempts]; ok && raw != nil {
		n, isInt := intOf(raw)
		if text, isString := raw.(string); isString {
			parsed, err := strconv.ParseInt(strings.TrimSpace(text), 10, 32)
			n, isInt = parsed, err == nil
		}
		switch {
		case !isInt || n > math.MaxInt32:
			errs = append(errs, fmt.Errorf("%s: must be a whole number, got %s", inputMaxAttempts, describeValue(raw)))
		case c.maxAttempts != 0 && int(n) != c.maxAttempts:
			errs = append(errs, fmt.Errorf("%s: given as %d on the step and %d in inputs", inputMaxAttempts, c.maxAttempts, n))
		default:
			c.maxAttempts = int(n)
		}
	}
	if c.maxAttempts < 0 {
		errs = append(errs, errors.New("maxAttempts must not be negative"))
	}
	if c.onFailure != "" && c.onFailure != OnFailureExit && c.onFailure != OnFailureSuccessAndExit && c.onFailure != OnFailureContinue {
		errs = append(errs, fmt.Errorf("onFailure: must be %q, %q or %q, got %s", OnFailureExit, OnFailureSuccessAndExit, OnFailureContinue, quoteShort(c.onFailure)))
	}
	if c.onSuccess != "" && c.onSuccess != OnSuccessExit {
		errs = append(errs, fmt.Errorf("onSuccess: must be %q, got %s", OnSuccessExit, quoteShort(c.onSuccess)))
	}
	if s.IsEnd {
		// isEnd ends the document after the step whatever its outcome.
		if c.onFailure == OnFailureContinue {
			errs = append(errs, fmt.Errorf("isEnd: the document ends after this step, which onFailure %q contradicts", OnFailureContinue))
		}
		if c.onFailure == "" {
			c.onFailure = OnFailureExit
		}
		c.onSuccess = OnSuccessExit
	}
	return c, errs
}

// describeValue names a value in a message: its text when it is a short scalar, else its kind.
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return quoteShort(x)
	case bool, int64, float64:
		return scalarText(x)
	}
	return kindOf(v)
}

// checkPlaceholders reports placeholders in s that name no declared parameter, or whose
// parameter has a type outside allowed (nil allows every type).
func (d *Document) checkPlaceholders(s string, allowed []string) []error {
	var errs []error
	for _, name := range placeholderNames(s) {
		p, ok := d.Parameters[name]
		switch {
		case strings.HasPrefix(name, "ssm:"):
			errs = append(errs, fmt.Errorf("{{ %s }}: Stead has no Parameter Store to read; declare a parameter here and give it the value when the document runs", shortText(name)))
		case strings.HasPrefix(name, "ssm-secure:"):
			errs = append(errs, fmt.Errorf("{{ %s }}: a SecureString reference cannot stand in a document; declare a String parameter here and give it the value {{ssm-secure:NAME}}, which the worker resolves", shortText(name)))
		case !ok:
			msg := fmt.Sprintf("{{ %s }}: no such parameter", name)
			if near := nearest(name, sortedKeys(d.Parameters)); near != "" {
				msg += "; did you mean " + near + "?"
			}
			errs = append(errs, errors.New(msg))
		case allowed != nil && !contains(allowed, p.Type):
			errs = append(errs, fmt.Errorf("{{ %s }}: a %s parameter cannot stand here (only %s)", name, p.Type, strings.Join(allowed, ", ")))
		}
	}
	return errs
}

// commandElements reads runCommand (or its alias commands): a string or a list of strings.
func commandElements(s Step) ([]string, string, error) {
	key := inputRunCommand
	raw, ok := s.Inputs[inputRunCommand]
	if alias, hasAlias := s.Inputs[inputCommands]; hasAlias {
		if ok {
			return nil, key, fmt.Errorf("give either %s or %s, not both", inputRunCommand, inputCommands)
		}
		key, raw, ok = inputCommands, alias, true
	}
	if !ok || raw == nil {
		return nil, key, fmt.Errorf("%s: required", inputRunCommand)
	}
	switch v := raw.(type) {
	case string:
		return []string{v}, key, nil
	case []any:
		if len(v) == 0 {
			return nil, key, fmt.Errorf("%s: must not be empty", key)
		}
		out := make([]string, len(v))
		for i, item := range v {
			str, isString := item.(string)
			if !isString {
				return nil, key, fmt.Errorf("%s[%d]: must be a string, got %s", key, i, kindOf(item))
			}
			out[i] = str
		}
		return out, key, nil
	default:
		return nil, key, fmt.Errorf("%s: must be a string or a list of strings, got %s", key, kindOf(raw))
	}
}

// dataPlaceholderTypes are the parameter types that can stand in a path or a timeout.
var dataPlaceholderTypes = []string{TypeString, TypeInteger}

func (d *Document) checkScriptInputs(r *report, label string, s Step) {
	add := func(err error) { r.errs = append(r.errs, fmt.Errorf("%s: %w", label, err)) }
	for _, k := range sortedKeys(s.Inputs) {
		if !contains(scriptInputs, k) {
			add(errors.New("input " + unknownKeyMessage(k, "input", scriptInputs)))
		}
	}
	elements, key, err := commandElements(s)
	if err != nil {
		add(err)
	} else {
		before := len(r.errs)
		for _, e := range elements {
			if strings.IndexByte(e, 0) >= 0 {
				add(fmt.Errorf("%s: contains a NUL byte", key))
			}
			for _, perr := range d.checkPlaceholders(e, nil) {
				add(fmt.Errorf("%s: %w", key, perr))
			}
		}
		if len(r.errs) == before {
			// Render once with empty code parameters to find placeholders standing where
			// no value can be passed safely, and those Stead renders differently from SSM.
			_, _, warnings, err := d.script(s.Action, elements, nil)
			if err != nil {
				add(fmt.Errorf("%s: %w", key, err))
			}
			for _, w := range warnings {
				r.warn(label, w.line, "%s", w.message)
			}
		}
	}
	switch wd := s.Inputs[inputWorkingDirectory].(type) {
	case nil:
	case string:
		if strings.IndexByte(wd, 0) >= 0 {
			add(fmt.Errorf("%s: contains a NUL byte", inputWorkingDirectory))
		}
		for _, perr := range d.checkPlaceholders(wd, dataPlaceholderTypes) {
			add(fmt.Errorf("%s: %w", inputWorkingDirectory, perr))
		}
	default:
		add(fmt.Errorf("%s: must be a string, got %s", inputWorkingDirectory, kindOf(wd)))
	}
	r.errs = append(r.errs, d.checkStepTimeoutInput(label, s)...)
}

// parseTimeout reads a timeout in seconds; 0 means the default.
func parseTimeout(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	if n == 0 {
		return 0, nil
	}
	return n, checkTimeout(int64(n))
}

// checkPrecondition returns the Stead platform a precondition limits its step to, or ""
// when it is a condition on parameter values.
func (d *Document) checkPrecondition(pc Precondition) (string, error) {
	if pc.Operator != "StringEquals" {
		return "", fmt.Errorf("operator %s is not supported; only StringEquals is", shortText(pc.Operator))
	}
	if len(pc.Operands) != 2 {
		return "", fmt.Errorf("StringEquals needs exactly two operands, got %d", len(pc.Operands))
	}
	left, right := pc.Operands[0], pc.Operands[1]
	if left == "platformType" {
		platform, ok := platformNames[right]
		if !ok {
			return "", fmt.Errorf("platformType can be compared with Linux, Windows or MacOS, not %s", quoteShort(right))
		}
		return platform, nil
	}
	if !placeholderRE.MatchString(left) && !placeholderRE.MatchString(right) {
		return "", fmt.Errorf("StringEquals [%s, %s] compares two constants; compare platformType or parameter placeholders", quoteShort(left), quoteShort(right))
	}
	var errs []error
	for _, o := range pc.Operands {
		for _, name := range placeholderNames(o) {
			if strings.HasPrefix(name, "ssm-secure:") {
				errs = append(errs, fmt.Errorf("{{ %s }}: a SecureString cannot stand in a precondition (the SSM agent refuses it too)", shortText(name)))
			}
		}
		// A plain Parameter Store reference is valid SSM; Check warns that Stead cannot read it.
		errs = append(errs, d.checkPlaceholders(parameterStoreRE.ReplaceAllString(o, ""), nil)...)
	}
	return "", errors.Join(errs...)
}

// parameterStoreRE matches a Parameter Store reference, {{ssm:NAME}} or {{ssm-secure:NAME}}.
var parameterStoreRE = regexp.MustCompile(`\{\{[ \t]*ssm(?:-secure)?:[^{}\s]*[ \t]*\}\}`)
