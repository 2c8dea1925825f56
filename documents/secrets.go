package documents

import (
	"fmt"
	"regexp"
	"strings"
)

// Size limits on parameter values, checked on the text a script would see. They keep a
// caller from filling workflow payloads (Temporal refuses a payload over a few MB and
// fails the whole workflow) and a node's environment (Linux refuses an exec whose
// environment is too large, a confusing failure far from its cause).
const (
	MaxParameterValueBytes = 64 * 1024
	MaxParametersBytes     = 256 * 1024
)

// secretRefRE matches a whole parameter value that is a SecureString reference,
// {{ssm-secure:NAME}}. NAME may be a Parameter Store path such as /prod/db/password.
var secretRefRE = regexp.MustCompile(`^\{\{[ \t]*ssm-secure:([A-Za-z0-9_./-]{1,256})[ \t]*\}\}$`)

// SecretRef returns the secret name when s is exactly one {{ssm-secure:NAME}} reference.
// Such a value is never resolved by the CLI or a workflow: it travels as written and the
// worker that runs the step looks NAME up in the secrets it holds.
func SecretRef(s string) (string, bool) {
	m := secretRefRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// SecretRefText is the canonical reference to the secret name.
func SecretRefText(name string) string { return "{{ssm-secure:" + name + "}}" }

// Redacted stands for a secret value wherever Stead would otherwise show it.
const Redacted = "***"

// secretReference reads v as a {{ssm-secure:NAME}} reference for parameter p. It reports
// ok when v is one; err when v holds a reference Stead cannot honour: inside a longer
// text, in a parameter that is not a String, or a plain {{ssm:NAME}} reference.
func secretReference(p Parameter, v any) (name string, ok bool, err error) {
	if s, isString := unwrapSingle(v).(string); isString {
		if name, ok := SecretRef(s); ok {
			if p.Type != TypeString {
				return "", false, fmt.Errorf("a {{ssm-secure:...}} reference can only be the value of a String parameter, not %s", p.Type)
			}
			return name, true, nil
		}
	}
	if containsReference(v) {
		return "", false, fmt.Errorf("a parameter store reference must be the whole value and of the form {{ssm-secure:NAME}}; plain {{ssm:...}} references are not supported")
	}
	return "", false, nil
}

// containsReference reports whether any text in v looks like a parameter store
// reference, which would otherwise reach the node as literal text.
func containsReference(v any) bool {
	switch x := v.(type) {
	case string:
		t := strings.ReplaceAll(x, " ", "")
		return strings.Contains(t, "{{ssm:") || strings.Contains(t, "{{ssm-secure:")
	case []string:
		for _, s := range x {
			if containsReference(s) {
				return true
			}
		}
	case []any:
		for _, item := range x {
			if containsReference(item) {
				return true
			}
		}
	case map[string]any:
		for _, item := range x {
			if containsReference(item) {
				return true
			}
		}
	}
	return false
}

// checkSecretPlacement refuses a step that would put a secret parameter's value anywhere
// but its SSM_<name> environment variable in a script: in a precondition, a working
// directory, a timeout, a download or a nested document's parameters it would be
// recorded in plain text (or, for a reference, be the reference itself), and as a whole
// runCommand element it would become script code.
func (d *Document) checkSecretPlacement(s Step, values map[string]resolved) error {
	secret := func(name string) bool { return values[name].secret }
	var where []string
	if s.Precondition != nil {
		for _, op := range s.Precondition.Operands {
			if anyPlaceholder(op, secret) {
				where = append(where, "precondition")
				break
			}
		}
	}
	scriptAction := s.Action == ActionRunShellScript || s.Action == ActionRunPowerShellScript
	for _, key := range sortedKeys(s.Inputs) {
		if scriptAction && (key == inputRunCommand || key == inputCommands) {
			continue
		}
		if anyPlaceholderIn(s.Inputs[key], secret) {
			where = append(where, key)
		}
	}
	if scriptAction {
		elements, _, _ := commandElements(s)
		for _, e := range elements {
			if name, ok := wholePlaceholder(e); ok && d.isCode(name) && secret(name) {
				return fmt.Errorf("parameter %s is secret and cannot be script code: declare it with interpolationType %s, or use {{ %s }} inside a command", name, InterpolationEnvVar, name)
			}
		}
	}
	if len(where) > 0 {
		return fmt.Errorf("a secret parameter can only reach a step as its %s<name> environment variable in %s; it cannot stand in %s", EnvPrefix, inputRunCommand, strings.Join(where, ", "))
	}
	return nil
}

func anyPlaceholder(s string, match func(string) bool) bool {
	for _, name := range placeholderNames(s) {
		if match(name) {
			return true
		}
	}
	return false
}

func anyPlaceholderIn(v any, match func(string) bool) bool {
	switch x := v.(type) {
	case string:
		return anyPlaceholder(x, match)
	case []any:
		for _, item := range x {
			if anyPlaceholderIn(item, match) {
				return true
			}
		}
	case map[string]any:
		for k, item := range x {
			if anyPlaceholder(k, match) || anyPlaceholderIn(item, match) {
				return true
			}
		}
	}
	return false
}

// RedactedEnv is env as it may be shown to a person: a secret given by value is
// replaced with Redacted, while a {{ssm-secure:NAME}} reference, which is no secret
// itself, is shown as written.
func RedactedEnv(env []EnvVar) []EnvVar {
	out := make([]EnvVar, len(env))
	for i, e := range env {
		out[i] = e
		if _, isRef := SecretRef(e.Value); e.Secret && !isRef {
			out[i].Value = Redacted
		}
	}
	return out
}

// Redacted is p as it may be shown to a person: every step's environment is RedactedEnv.
func (p *Plan) Redacted() *Plan {
	cp := *p
	cp.Steps = make([]PlanStep, len(p.Steps))
	for i, s := range p.Steps {
		s.Env = RedactedEnv(s.Env)
		cp.Steps[i] = s
	}
	return &cp
}

// RedactParameters is params for showing and recording: the value of each
// parameter isSecret names replaced by Redacted, unless it is a
// {{ssm-secure:NAME}} reference, which names a secret without being one.
// params itself is left as it was.
func RedactParameters(params map[string]any, isSecret func(name string) bool) map[string]any {
	if len(params) == 0 {
		return params
	}
	out := make(map[string]any, len(params))
	for k, v := range params {
		if s, isText := v.(string); isSecret(k) && !(isText && secretRefRE.MatchString(s)) {
			v = Redacted
		}
		out[k] = v
	}
	return out
}
