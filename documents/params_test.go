package documents

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const constrainedDocument = `
schemaVersion: "2.2"
parameters:
  action: {type: String, allowedValues: [Install, Uninstall]}
  version: {type: String, allowedPattern: "[0-9]+\\.[0-9]+", maxChars: 5}
  hosts: {type: StringList, minItems: 2, maxItems: 3, allowedPattern: "[a-z0-9.-]+"}
  count: {type: Integer, default: 1, allowedValues: [1, 2, 3]}
  enabled: {type: Boolean, default: false}
  tags: {type: StringMap, default: {}}
  rules: {type: MapList, default: []}
  name: {type: String, minChars: 3}
  secret: {type: String}
mainSteps:
  - name: run
    action: aws:runShellScript
    inputs:
      runCommand: ["echo {{ action }} {{ version }} {{ hosts }} {{ count }} {{ enabled }} {{ tags }} {{ rules }} {{ name }} {{ secret }}"]
`

func TestParameterViolationsAllAtOnce(t *testing.T) {
	_, err := Render("constrained", []byte(constrainedDocument), map[string]any{
		"action":   "Reinstall",
		"version":  "10.100",
		"hosts":    []any{"UPPER"},
		"count":    "7",
		"enabled":  "maybe",
		"tags":     "not json",
		"rules":    []any{"x", "y"},
		"name":     "ab",
		"unknwon":  "x",
		"verison":  "1.0",
		"whatever": "x",
	})
	require.Error(t, err)
	want := []string{
		`parameter action: value "Reinstall" is not one of the allowed values ["Install", "Uninstall"]`,
		"parameter count: value \"7\" is not one of the allowed values [\"1\", \"2\", \"3\"]",
		"parameter enabled: must be true or false, got a string",
		"parameter hosts: has 1 items, fewer than the minimum 2",
		`parameter hosts: item 0: value does not match allowedPattern "[a-z0-9.-]+"`,
		"parameter name: has 2 characters, fewer than the minimum 3",
		"parameter rules: item 0: must be a mapping, got a string",
		"parameter secret: a value is required (the parameter has no default)",
		"parameter tags: must be a mapping (a JSON object when given as text)",
		"parameter unknwon: unknown parameter; known: action, count, enabled, hosts, name, rules, secret, tags, version",
		"parameter verison: unknown parameter; did you mean version?",
		"parameter version: has 6 characters, more than the maximum 5",
		"parameter whatever: unknown parameter; known:",
	}
	for _, w := range want {
		require.Contains(t, err.Error(), w)
	}
	require.Len(t, strings.Split(err.Error(), "\n"), len(want), err.Error())
	require.NotContains(t, err.Error(), "10.100", "pattern violations do not repeat the value")
}

func TestParameterValues(t *testing.T) {
	plan, err := Render("constrained", []byte(constrainedDocument), map[string]any{
		"action":  []any{"Install"}, // SSM passes every value as a list of strings
		"version": "1.2",
		"hosts":   []string{"a.example", "b-1"},
		"count":   float64(2), // a number after a JSON round trip
		"enabled": "TRUE",
		"tags":    `{"env":"prod"}`,
		"rules":   []any{map[string]any{"port": 22}},
		"name":    "web",
		"secret":  "s3cr3t",
	})
	require.NoError(t, err)
	require.Equal(t, []EnvVar{
		{Name: "SSM_action", Value: "Install"},
		{Name: "SSM_count", Value: "2"},
		{Name: "SSM_enabled", Value: "true"},
		{Name: "SSM_hosts", Value: `["a.example","b-1"]`},
		{Name: "SSM_name", Value: "web"},
		{Name: "SSM_rules", Value: `[{"port":22}]`},
		{Name: "SSM_secret", Value: "s3cr3t"},
		{Name: "SSM_tags", Value: `{"env":"prod"}`},
		{Name: "SSM_version", Value: "1.2"},
	}, plan.Steps[0].Env)
}

func TestParameterNUL(t *testing.T) {
	_, err := Render("constrained", []byte(constrainedDocument), map[string]any{
		"action": "Install", "version": "1.2", "hosts": []any{"a", "b"}, "name": "abc",
		"secret": "a\x00b",
	})
	require.ErrorContains(t, err, "parameter secret: value contains a NUL byte")
}

func TestParseParameterFlags(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   map[string]any
		err    string
	}{
		{"none", nil, map[string]any{}, ""},
		{"json object", []string{`{"commands":["a","b"],"n":3}`}, map[string]any{"commands": []any{"a", "b"}, "n": float64(3)}, ""},
		{"key value", []string{"workingDirectory=/tmp", "empty="}, map[string]any{"workingDirectory": "/tmp", "empty": ""}, ""},
		{"value with equals", []string{"filter=a=b"}, map[string]any{"filter": "a=b"}, ""},
		{"repeated appends", []string{"commands=echo a", "commands=echo b", "commands=echo c"}, map[string]any{"commands": []string{"echo a", "echo b", "echo c"}}, ""},
		{"json merged with key value", []string{`{"a":"1"}`, "b=2"}, map[string]any{"a": "1", "b": "2"}, ""},
		{"no equals", []string{"commands"}, nil, `parameters "commands": expected name=value or a JSON object`},
		{"bad name", []string{"bad name=x"}, nil, `"bad name" is not a valid parameter name`},
		{"empty name", []string{"=x"}, nil, `"" is not a valid parameter name`},
		{"broken json", []string{`{"a": }`}, nil, "not a JSON object: invalid character"},
		{"json twice", []string{`{"a":"1"}`, `{"a":"2"}`}, nil, "parameters: a is given more than once"},
		{"json then key value", []string{`{"a":"1"}`, "a=2"}, nil, "parameters: a is given more than once"},
		{"trailing text", []string{`{"a":"1"} x`}, nil, "unexpected text after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseParameterFlags(tt.values)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.NotContains(t, err.Error(), "\n")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParameterFlagsRender(t *testing.T) {
	params, err := ParseParameterFlags([]string{"commands=printf '%s\\n' one", "commands=printf '%s\\n' two", "executionTimeout=30"})
	require.NoError(t, err)
	_, content, _ := Builtin("AWS-RunShellScript")
	plan, err := Render("AWS-RunShellScript", content, params)
	require.NoError(t, err)
	out, _ := runSh(t, "sh", plan.Steps[0].Script, plan.Steps[0].Env)
	require.Equal(t, "one\ntwo\n", out)
	require.Equal(t, 30, plan.Steps[0].TimeoutSeconds)
}
