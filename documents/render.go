package documents

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Plan is a document rendered with its parameters: what an execution records and runs on
// each target. It is plain data so that it can travel in workflow payloads, and the
// activities run it without reading the document again.
type Plan struct {
	DocumentName string
	// DocumentVersion is "1" for built-ins for now; callers that store versions overwrite it.
	DocumentVersion string
	// DocumentHash is "sha256:<hex>" of the document content bytes, so an execution
	// records exactly which content it ran.
	DocumentHash string
	Steps        []PlanStep
}

// PlanStep is one step ready to run on a target: the script its shell runs and the
// environment that carries the parameter values the script references.
type PlanStep struct {
	Name   string
	Action string // e.g. aws:runShellScript
	// Platforms limits the step to these platforms ("linux", "windows", "macos"); empty means
	// all. It comes from a `StringEquals: [platformType, Linux]` precondition.
	Platforms []string
	// Skipped is set when a precondition on parameter values is false; the step does not run.
	Skipped    bool
	SkipReason string
	Shell      string // "sh" for aws:runShellScript, "powershell" for aws:runPowerShellScript
	// Script is the body the target's shell runs. Parameter values appear in it only where
	// the document makes them code (a whole runCommand element of a String or StringList
	// parameter); everywhere else they are references to SSM_<name> variables of Env.
	Script string
	// Env holds the parameter values the script references, sorted by name.
	Env              []EnvVar
	WorkingDirectory string
	// TimeoutSeconds bounds the step's run: DefaultTimeoutSeconds unless the document says
	// otherwise, within MinTimeoutSeconds..MaxTimeoutSeconds.
	TimeoutSeconds int
	// MaxAttempts is how many times the step may run before it fails (at least 1).
	MaxAttempts int
	// OnFailure, OnSuccess and FinallyStep are the step's flow control (see Step).
	OnFailure   string
	OnSuccess   string
	FinallyStep bool
	// StartedByWorker is the step's startedByWorker (see Step).
	StartedByWorker bool `json:",omitempty"`
	// Download is set for aws:downloadContent: what the worker fetches and writes on the node.
	Download *Download `json:",omitempty"`
	// Refused says why this step cannot run anywhere (an unsupported source or document
	// type): the step fails with this reason when it is reached, as SSM fails it at run time.
	Refused string `json:",omitempty"`
	// LocalDocument is set for aws:runDocument with documentType LocalPath: the file exists
	// only on the node, once the steps before it ran, so the target reads and expands it
	// when the step is reached (RenderLocal) instead of rendering it here.
	LocalDocument *LocalDocument `json:",omitempty"`
	// Document is "NAME:VERSION sha256:..." of the nested document an aws:runDocument step
	// took this step from; "" for the plan's own steps.
	Document string `json:",omitempty"`
}

// EnvVar is one environment variable a step's script runs with.
type EnvVar struct {
	Name, Value string
	// Secret marks the value of a secret parameter: the worker resolves a
	// {{ssm-secure:NAME}} Value before the step runs and redacts the value from what it
	// captures; anything that shows a plan shows RedactedEnv.
	Secret bool `json:",omitempty"`
}

// Shells a PlanStep runs under.
const (
	ShellSh         = "sh"
	ShellPowerShell = "powershell"
)

// Render parses and validates content, resolves params against the document's parameter
// declarations (defaults, types, allowedValues, allowedPattern, min/max; unknown names are
// errors and a parameter without default is required) and renders every step. All the
// problems of a stage are reported at once. name is recorded in the plan. aws:runDocument
// steps may run built-in documents only; RenderWith resolves registered ones.
func Render(name string, content []byte, params map[string]any) (*Plan, error) {
	return RenderWith(name, content, params, ResolveBuiltin)
}

// RenderWith is Render with a Resolver for the documents aws:runDocument steps name. Their
// steps are expanded into the plan (named "<runDocument step>.<step>"), so that an
// execution records exactly what runs and pins every nested version at its start.
func RenderWith(name string, content []byte, params map[string]any, resolve Resolver) (*Plan, error) {
	doc, err := checked(name, content)
	if err != nil {
		return nil, err
	}
	values, errs := resolveParameters(doc, params)
	if len(errs) > 0 {
		return nil, fmt.Errorf("check parameters of document %s: %w", name, errors.Join(errs...))
	}
	plan := &Plan{
		DocumentName:    name,
		DocumentVersion: "1",
		DocumentHash:    Hash(content),
	}
	canonical := name
	if c, _, ok := Builtin(name); ok {
		canonical = c
	}
	steps, err := doc.renderSteps(values, expansion{resolve: resolve, chain: []string{canonical}})
	if err != nil {
		return nil, fmt.Errorf("render document %s: %w", name, err)
	}
	plan.Steps = steps
	return plan, nil
}

// checked parses and validates content, reporting the problems of both stages at once,
// for a document called name.
func checked(name string, content []byte) (*Document, error) {
	doc, _, err := Check(content)
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return nil, fmt.Errorf("validate document %s: %w", name, err)
	case err != nil:
		return nil, fmt.Errorf("parse document %s: %w", name, err)
	}
	return doc, nil
}

// Hash is the content hash an execution records and the registry keys versions by:
// "sha256:<hex>" of the content bytes.
func Hash(content []byte) string {
	sum := sha256.Sum256(content)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// isCode reports whether a whole runCommand element made of this parameter's placeholder
// is script code supplied by the caller.
func (d *Document) isCode(name string) bool {
	p, ok := d.Parameters[name]
	return ok && (p.Type == TypeString || p.Type == TypeStringList) && p.InterpolationType != InterpolationEnvVar
}

// script renders runCommand elements, one line each, for the action's shell, with the
// warnings of the result. With values nil, code parameters render empty: Validate uses
// that to check placeholder positions.
func (d *Document) script(action string, elements []string, values map[string]resolved) (string, map[string]bool, []scriptWarning, error) {
	var t scriptTemplate
	for i, e := range elements {
		if i > 0 {
			t.addText("\n")
		}
		if name, ok := wholePlaceholder(e); ok && d.isCode(name) {
			t.addCodeSlot(name, e)
			continue
		}
		t.addTemplate(e)
	}
	code := func(name string) string {
		switch v := values[name].value.(type) {
		case string:
			return v
		case []string:
			return strings.Join(v, "\n")
		}
		return ""
	}
	if action == ActionRunPowerShellScript {
		script, refs, warnings := renderPowerShell(&t, code)
		return script, refs, warnings, nil
	}
	script, refs, warnings, err := renderShell(&t, code, d.arithmetic(values))
	if interpreter := shebangInterpreter(elements); interpreter != "" && !contains(shells, interpreter) && hasDataSpan(t.spans) {
		warnings = append(warnings, scriptWarning{line: 1, message: fmt.Sprintf(
			"the script runs under %s, but Stead writes placeholders as sh references to SSM_<name> variables; read the values from the environment instead (SSM_<name>)", interpreter)})
	}
	return script, refs, warnings, err
}

// shells are the interpreters whose language placeholders are rendered for.
var shells = []string{"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"}

// shebangInterpreter is the program a script's #! line names ("bash" for
// "#!/usr/bin/env bash"), or "" when it has none.
func shebangInterpreter(elements []string) string {
	if len(elements) == 0 || !strings.HasPrefix(elements[0], "#!") {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimPrefix(elements[0], "#!"), "\n")
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return ""
	}
	program := path.Base(fields[0])
	if program == "env" {
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "-") {
				return path.Base(f)
			}
		}
	}
	return program
}

func hasDataSpan(spans []span) bool {
	for _, sp := range spans {
		if !sp.code {
			return true
		}
	}
	return false
}

// integerRE matches the text of an integer.
var integerRE = regexp.MustCompile(`^[+-]?[0-9]+$`)

// arithmetic says whether a parameter may stand in shell arithmetic, which evaluates the
// expanded text: an Integer always, a String when its value is an integer (checked once
// the value is known).
func (d *Document) arithmetic(values map[string]resolved) func(string) error {
	return func(name string) error {
		switch p := d.Parameters[name]; {
		case p.Type == TypeInteger:
		case p.Type != TypeString:
			return fmt.Errorf("placeholder {{ %s }} is inside an arithmetic expression, where the shell evaluates its value: only an Integer, or a String holding an integer, may stand there", name)
		case values != nil && (values[name].secret || !integerRE.MatchString(values[name].text)):
			return fmt.Errorf("parameter %s: its value stands in an arithmetic expression, where the shell would evaluate it, so it must be an integer", name)
		}
		return nil
	}
}

func (d *Document) renderStep(s Step, last bool, values map[string]resolved) (PlanStep, error) {
	c, _ := flowControl(s) // checked by Validate
	if err := d.checkSecretPlacement(s, values); err != nil {
		return PlanStep{}, err
	}
	ps := PlanStep{
		Name:        s.Name,
		Action:      s.Action,
		Shell:       ShellSh,
		MaxAttempts: max(1, c.maxAttempts),
		OnFailure:   c.onFailure,
		OnSuccess:   c.onSuccess,
		FinallyStep: c.finallyStep && last, // SSM ignores it on any other step

		StartedByWorker: s.StartedByWorker,
	}
	if s.Action == ActionRunPowerShellScript {
		ps.Shell = ShellPowerShell
	}
	text := func(name string) string { return values[name].text }
	// Only 2.2 evaluates preconditions; there, a step without a platform precondition runs
	// where its plugin can, and aws:runShellScript cannot run on Windows.
	pc := s.Precondition
	if d.SchemaVersion != SchemaVersion22 {
		pc = nil
	}
	if pc != nil {
		platform, _ := d.checkPrecondition(*pc) // checked by Validate
		switch {
		case platform != "":
			ps.Platforms = []string{platform}
		case anyParameterStore(pc.Operands):
			ps.Refused = "the precondition reads Parameter Store, which Stead does not have"
		default:
			left := substituteRaw(pc.Operands[0], text)
			right := substituteRaw(pc.Operands[1], text)
			if left != right {
				ps.Skipped = true
				ps.SkipReason = fmt.Sprintf("precondition StringEquals is false: %s != %s", quoteShort(left), quoteShort(right))
			}
		}
	}
	if d.SchemaVersion == SchemaVersion22 && s.Action == ActionRunShellScript && len(ps.Platforms) == 0 {
		ps.Platforms = []string{"linux", "macos"}
	}
	timeout, err := effectiveTimeout(s, text)
	if err != nil {
		return PlanStep{}, err
	}
	ps.TimeoutSeconds = timeout
	switch {
	case ps.Skipped || ps.Refused != "":
		return ps, nil
	case s.Action == ActionRunDocument:
		ps.Shell = ""
		return ps, nil
	case s.Action == ActionDownloadContent:
		ps.Shell = ""
		return ps, d.renderDownload(&ps, s, values)
	}
	elements, _, _ := commandElements(s) // checked by Validate
	script, refs, _, err := d.script(s.Action, elements, values)
	if err != nil {
		return PlanStep{}, err
	}
	ps.Script = script
	for name, p := range d.Parameters {
		if p.InterpolationType == InterpolationEnvVar {
			refs[name] = true
		}
	}
	for _, name := range sortedKeys(refs) {
		ps.Env = append(ps.Env, EnvVar{Name: EnvPrefix + name, Value: values[name].text, Secret: values[name].secret})
	}
	if wd, ok := s.Inputs[inputWorkingDirectory].(string); ok {
		ps.WorkingDirectory = substituteRaw(wd, text)
	}
	return ps, nil
}

// anyParameterStore reports whether any operand reads Parameter Store.
func anyParameterStore(operands []string) bool {
	for _, o := range operands {
		if parameterStoreRE.MatchString(o) {
			return true
		}
	}
	return false
}

// effectiveTimeout is the tighter of the step-level timeout and inputs.timeoutSeconds
// (either kills the step in SSM); zero values mean DefaultTimeoutSeconds.
func effectiveTimeout(s Step, text func(string) string) (int, error) {
	timeout := s.TimeoutSeconds
	var fromInputs int
	raw := s.Inputs[inputTimeoutSeconds]
	if n, ok := intOf(raw); ok {
		raw = n
	}
	switch t := raw.(type) {
	case int64:
		fromInputs = int(t) // range checked by Validate
	case string:
		n, err := parseTimeout(substituteRaw(t, text))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", inputTimeoutSeconds, err)
		}
		fromInputs = n
	}
	if fromInputs > 0 && (timeout == 0 || fromInputs < timeout) {
		timeout = fromInputs
	}
	if timeout == 0 {
		timeout = DefaultTimeoutSeconds
	}
	return timeout, nil
}
