package documents

import (
	"errors"
	"fmt"
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
)

// scriptInputs are the inputs of aws:runShellScript and aws:runPowerShellScript, with the
// flow-control inputs SSM lets every plugin take.
var scriptInputs = []string{inputRunCommand, inputCommands, inputWorkingDirectory, inputTimeoutSeconds,
	inputOnFailure, inputOnSuccess, inputFinallyStep}

// platformNames maps the platformType values of SSM preconditions to Stead's platform names.
var platformNames = map[string]string{"Linux": "linux", "Windows": "windows", "MacOS": "macos"}

// stepNameRE keeps step names safe to use in paths and workflow ids.
var stepNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// Validate reports every problem of the document at once (joined with errors.Join), each
// naming the parameter or step it is about. A document that validates can be rendered
// with any parameter values that satisfy its declarations.
func (d *Document) Validate() error {
	var errs []error
	switch d.SchemaVersion {
	case SchemaVersion:
	case "":
		errs = append(errs, fmt.Errorf("schemaVersion: required; Stead runs schemaVersion %q", SchemaVersion))
	default:
		errs = append(errs, fmt.Errorf("schemaVersion: %q is not supported; Stead runs schemaVersion %q Command documents", d.SchemaVersion, SchemaVersion))
	}
	for _, name := range sortedKeys(d.Parameters) {
		errs = append(errs, checkDeclaration(name, d.Parameters[name])...)
	}
	if len(d.MainSteps) == 0 {
		errs = append(errs, errors.New("mainSteps: at least one step is required"))
	}
	seen := map[string]int{}
	for i, s := range d.MainSteps {
		errs = append(errs, d.checkStep(i, s, seen)...)
	}
	return errors.Join(errs...)
}

// stepLabel names a step in messages: by name, or by position when it has none.
func stepLabel(i int, s Step) string {
	if s.Name == "" {
		return fmt.Sprintf("mainSteps[%d]", i)
	}
	return "step " + s.Name
}

func (d *Document) checkStep(i int, s Step, seen map[string]int) []error {
	label := stepLabel(i, s)
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(label+": "+format, args...))
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
		errs = append(errs, d.checkScriptInputs(label, s)...)
	case ActionRunDocument:
		errs = append(errs, d.checkRunDocumentInputs(label, s)...)
	case ActionDownloadContent:
		errs = append(errs, d.checkDownloadInputs(label, s)...)
	case "":
		add("action is required")
	default:
		errs = append(errs, fmt.Errorf("%s: plugin %s is %w", label, s.Action, ErrUnsupported))
	}
	if s.TimeoutSeconds != 0 {
		if err := checkTimeout(int64(s.TimeoutSeconds)); err != nil {
			add("timeoutSeconds: %v", err)
		}
	}
	if s.MaxAttempts < 0 {
		add("maxAttempts must not be negative")
	}
	control, cerrs := flowControl(s)
	for _, e := range cerrs {
		add("%v", e)
	}
	if control.finallyStep && i != len(d.MainSteps)-1 {
		add("finallyStep: only the last step can be the finally step")
	}
	if s.Precondition != nil {
		if _, err := d.checkPrecondition(*s.Precondition); err != nil {
			add("precondition: %v", err)
		}
	}
	return errs
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
				errs = append(errs, fmt.Errorf("%s: given as %q on the step and %q in inputs", field, v, in))
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
	}
	switch raw := s.Inputs[inputFinallyStep].(type) {
	case nil:
	case bool:
		c.finallyStep = c.finallyStep || raw
	case string:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: must be true or false, got %q", inputFinallyStep, raw))
		}
		c.finallyStep = c.finallyStep || b
	default:
		errs = append(errs, fmt.Errorf("%s: must be true or false, got %s", inputFinallyStep, kindOf(raw)))
	}
	if c.onFailure != "" && c.onFailure != OnFailureExit && c.onFailure != OnFailureSuccessAndExit && c.onFailure != OnFailureContinue {
		errs = append(errs, fmt.Errorf("onFailure: must be %q, %q or %q, got %q", OnFailureExit, OnFailureSuccessAndExit, OnFailureContinue, c.onFailure))
	}
	if c.onSuccess != "" && c.onSuccess != OnSuccessExit {
		errs = append(errs, fmt.Errorf("onSuccess: must be %q, got %q", OnSuccessExit, c.onSuccess))
	}
	return c, errs
}

// checkPlaceholders reports placeholders in s that name no declared parameter, or whose
// parameter has a type outside allowed (nil allows every type).
func (d *Document) checkPlaceholders(s string, allowed []string) []error {
	var errs []error
	for _, name := range placeholderNames(s) {
		p, ok := d.Parameters[name]
		switch {
		case strings.HasPrefix(name, "ssm:") || strings.HasPrefix(name, "ssm-secure:"):
			errs = append(errs, fmt.Errorf("{{ %s }}: Parameter Store references are not supported in a document; declare a String parameter and give it the value {{ssm-secure:NAME}}", name))
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

func (d *Document) checkScriptInputs(label string, s Step) []error {
	var errs []error
	add := func(err error) { errs = append(errs, fmt.Errorf("%s: %w", label, err)) }
	for _, k := range sortedKeys(s.Inputs) {
		if !contains(scriptInputs, k) {
			add(errors.New("input " + unknownKeyMessage(k, "input", scriptInputs)))
		}
	}
	elements, key, err := commandElements(s)
	if err != nil {
		add(err)
	} else {
		for _, e := range elements {
			if strings.IndexByte(e, 0) >= 0 {
				add(fmt.Errorf("%s: contains a NUL byte", key))
			}
			for _, perr := range d.checkPlaceholders(e, nil) {
				add(fmt.Errorf("%s: %w", key, perr))
			}
		}
		if len(errs) == 0 {
			// Render once with empty code parameters to find placeholders standing where
			// no value can be passed safely.
			if _, _, err := d.script(s.Action, elements, nil); err != nil {
				add(fmt.Errorf("%s: %w", key, err))
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
	timeout := s.Inputs[inputTimeoutSeconds]
	if n, ok := intOf(timeout); ok { // 300.0 in JSON is still whole seconds
		timeout = n
	}
	switch t := timeout.(type) {
	case nil:
	case int64:
		if t != 0 {
			if err := checkTimeout(t); err != nil {
				add(fmt.Errorf("%s: %w", inputTimeoutSeconds, err))
			}
		}
	case string:
		if placeholderRE.MatchString(t) {
			for _, perr := range d.checkPlaceholders(t, dataPlaceholderTypes) {
				add(fmt.Errorf("%s: %w", inputTimeoutSeconds, perr))
			}
		} else if _, err := parseTimeout(t); err != nil {
			add(fmt.Errorf("%s: %w", inputTimeoutSeconds, err))
		}
	case float64:
		add(fmt.Errorf("%s: must be a whole number of seconds, got %v", inputTimeoutSeconds, t))
	default:
		add(fmt.Errorf("%s: must be a number of seconds, got %s", inputTimeoutSeconds, kindOf(t)))
	}
	return errs
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
		return "", fmt.Errorf("operator %s is not supported; only StringEquals is", pc.Operator)
	}
	if len(pc.Operands) != 2 {
		return "", fmt.Errorf("StringEquals needs exactly two operands, got %d", len(pc.Operands))
	}
	left, right := pc.Operands[0], pc.Operands[1]
	if left == "platformType" {
		platform, ok := platformNames[right]
		if !ok {
			return "", fmt.Errorf("platformType can be compared with Linux, Windows or MacOS, not %q", right)
		}
		return platform, nil
	}
	if !placeholderRE.MatchString(left) && !placeholderRE.MatchString(right) {
		return "", fmt.Errorf("StringEquals [%q, %q] compares two constants; compare platformType or parameter placeholders", left, right)
	}
	var errs []error
	for _, o := range pc.Operands {
		errs = append(errs, d.checkPlaceholders(o, nil)...)
	}
	return "", errors.Join(errs...)
}
