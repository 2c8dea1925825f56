package documents

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// compatDir holds real public SSM documents; CI has it at the same relative place.
const compatDir = "../../shared/compat/ssm-documents"

// compatDocuments returns the compat documents by file name.
func compatDocuments(t testing.TB) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(compatDir)
	require.NoError(t, err)
	docs := map[string][]byte{}
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); ext != ".json" && ext != ".yaml" && ext != ".yml" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(compatDir, e.Name()))
		require.NoError(t, err)
		docs[e.Name()] = data
	}
	return docs
}

func TestCompatDocuments(t *testing.T) {
	// Each compat document validates (nil) or is refused with exactly these reasons.
	want := map[string][]string{
		"composite-download-rundocument.json": nil, // its GitHub source fails at run time, before its LocalPath document is read
		"cross-platform-patch.yaml":           nil,
		"custom-inventory-log4j.yaml": {
			"step collectSoftwareInventoryItems: plugin aws:softwareInventory is not supported",
		},
		"install-vscode-windows.json":         nil,
		"parameter-precondition-install.json": nil,
		"parameter-precondition.json":         nil,
		"platform-precondition.json":          nil,
		"powershell-then-inventory.yaml": {
			"step collectSoftwareInventoryItems: plugin aws:softwareInventory is not supported",
		},
		"set-registry-windows.json": nil,
	}
	docs := compatDocuments(t)
	require.NotEmpty(t, docs)
	for name, data := range docs {
		t.Run(name, func(t *testing.T) {
			reasons, known := want[name]
			require.True(t, known, "new compat document %s: add its expected outcome to this test", name)
			doc, err := Parse(data)
			require.NoError(t, err)
			err = doc.Validate()
			if reasons == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrUnsupported)
			require.Equal(t, strings.Join(reasons, "\n"), err.Error())
		})
	}
	for name := range want {
		require.Contains(t, docs, name, "compat document %s is missing", name)
	}
}

func TestRenderCompatDocuments(t *testing.T) {
	docs := compatDocuments(t)
	tests := []struct {
		file   string
		params map[string]any
		check  func(t *testing.T, p *Plan)
	}{
		{"platform-precondition.json", map[string]any{"commands": []any{"date -u", "uptime"}}, func(t *testing.T, p *Plan) {
			require.Len(t, p.Steps, 2)
			require.Equal(t, []string{"windows"}, p.Steps[0].Platforms)
			require.Equal(t, ShellPowerShell, p.Steps[0].Shell)
			require.Equal(t, "date", p.Steps[0].Script)
			require.Equal(t, []string{"linux"}, p.Steps[1].Platforms)
			require.Equal(t, "date -u\nuptime", p.Steps[1].Script)
			require.Equal(t, DefaultTimeoutSeconds, p.Steps[1].TimeoutSeconds)
			require.Equal(t, 1, p.Steps[1].MaxAttempts)
		}},
		{"parameter-precondition-install.json", map[string]any{"action": "Install", "confirmed": "true"}, func(t *testing.T, p *Plan) {
			require.False(t, p.Steps[0].Skipped)
			require.Equal(t, "sudo apt install aws-cli", p.Steps[0].Script)
			require.True(t, p.Steps[1].Skipped)
			require.Equal(t, `precondition StringEquals is false: "Install true" != "Uninstall True"`, p.Steps[1].SkipReason)
			require.Empty(t, p.Steps[1].Script)
		}},
		{"parameter-precondition.json", map[string]any{"messagePrecondition": "MessagePreconditionValue"}, func(t *testing.T, p *Plan) {
			require.False(t, p.Steps[0].Skipped)
		}},
		{"install-vscode-windows.json", nil, func(t *testing.T, p *Plan) {
			s := p.Steps[0]
			require.Equal(t, 300, s.TimeoutSeconds)
			require.Contains(t, s.Script, "$downloadUrl = \"${env:SSM_DownloadUrl}\"\n")
			require.Equal(t, []EnvVar{{Name: "SSM_DownloadUrl", Value: "https://go.microsoft.com/fwlink/?Linkid=852157"}}, s.Env)
		}},
		{"cross-platform-patch.yaml", nil, func(t *testing.T, p *Plan) {
			require.Equal(t, []string{"windows"}, p.Steps[0].Platforms)
			require.Equal(t, []string{"linux"}, p.Steps[1].Platforms)
		}},
		{"set-registry-windows.json", nil, func(t *testing.T, p *Plan) {
			require.Contains(t, p.Steps[0].Script, `'HKLM:\SOFTWARE\NVIDIA Corporation\Global'`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := Render(tt.file, docs[tt.file], tt.params)
			require.NoError(t, err)
			tt.check(t, p)
		})
	}
}

func TestParseSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, content string
		format        string
		line, column  int
	}{
		{"json trailing comma", "{\n  \"schemaVersion\": \"2.2\",\n}", "json", 3, 1},
		{"json bad value", "{\"a\": tru}", "json", 1, 8},
		{"json duplicate key", "{\"a\": 1,\n \"a\": 2}", "json", 2, 2},
		{"json trailing content", "{} {}", "json", 1, 4},
		{"json truncated", "{\"a\": [1, 2", "json", 1, 12},
		{"yaml tab indentation", "schemaVersion: '2.2'\nmainSteps:\n\t- a: 1\n", "yaml", 3, 0},
		{"yaml duplicate key", "a: 1\na: 2\n", "yaml", 2, 1},
		{"yaml two documents", "a: 1\n---\nb: 2\n", "yaml", 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.content))
			var se *SyntaxError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.format, se.Format)
			require.Equal(t, tt.line, se.Line, err.Error())
			if tt.column > 0 {
				require.Equal(t, tt.column, se.Column, err.Error())
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name, content string
		want          []string
	}{
		{"empty", "  \n", []string{"document is empty"}},
		{"not a mapping", "- a\n- b\n", []string{"document must be a mapping, got a list"}},
		{"too large", "description: " + strings.Repeat("x", MaxDocumentSize), []string{"more than the 65536 allowed"}},
		{"unknown keys, all at once", `
schemaVersion: "2.2"
mainStep: []
parameters:
  p: {type: String, defualt: x}
mainSteps:
  - name: a
    action: aws:runShellScript
    input: {}
    timeoutSeconds: soon
  - notamapping
`, []string{
			"mainStep: unknown key; did you mean mainSteps?",
			"parameter p: defualt: unknown key; did you mean default?",
			"step a: input: unknown key; did you mean inputs?",
			`step a: timeoutSeconds: must be an integer, got "soon"`,
			"mainSteps[1]: must be a mapping, got a string",
		}},
		{"wrong shapes", `{"schemaVersion": ["2.2"], "parameters": [], "mainSteps": {}}`, []string{
			"schemaVersion: must be a string, got a list",
			"parameters: must be a mapping, got a list",
			"mainSteps: must be a list, got a mapping",
		}},
		{"bad precondition", `
schemaVersion: "2.2"
mainSteps:
  - name: a
    action: aws:runShellScript
    precondition: {StringEquals: [platformType, Linux], StringLike: [a, b]}
    inputs: {runCommand: [x]}
`, []string{"step a: precondition: must be a mapping with exactly one operator"}},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n", []string{"too many values"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.content))
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParseYAMLAndJSONAgree(t *testing.T) {
	yamlDoc := `
schemaVersion: 2.2
description: same
parameters:
  n: {type: Integer, default: 5, minChars: null}
mainSteps:
  - name: s
    action: aws:runShellScript
    timeoutSeconds: "60"
    maxAttempts: 2
    finallyStep: false
    inputs: {runCommand: "echo {{ n }}"}
`
	jsonDoc := `{"schemaVersion": "2.2", "description": "same",
  "parameters": {"n": {"type": "Integer", "default": 5}},
  "mainSteps": [{"name": "s", "action": "aws:runShellScript", "timeoutSeconds": 60, "maxAttempts": 2,
    "inputs": {"runCommand": "echo {{ n }}"}}]}`
	a, err := Parse([]byte(yamlDoc))
	require.NoError(t, err)
	b, err := Parse([]byte(jsonDoc))
	require.NoError(t, err)
	require.Equal(t, b, a)
	require.NoError(t, a.Validate())
}

func TestValidateReportsEverything(t *testing.T) {
	doc := `
schemaVersion: "2.0"
parameters:
  good: {type: String, default: ok}
  bad-name: {type: String, default: x}
  noType: {description: forgot}
  pattern: {type: String, allowedPattern: "(unclosed"}
  bounds: {type: StringList, minItems: 3, maxItems: 1, minChars: -1}
  typo: {type: Strng}
  badDefault: {type: Integer, default: "twelve"}
  outOfValues: {type: String, default: c, allowedValues: [a, b]}
  itemsOnString: {type: String, minItems: 1}
mainSteps:
  - name: one
    action: aws:runShellScript
    inputs:
      runCommand: ["echo {{ goood }}", "echo {{ ssm:/db/password }}"]
      desinationPath: /tmp
      workingDirectroy: /tmp
      timeoutSeconds: 3
      workingDirectory: "{{ bounds }}"
  - name: one
    action: aws:softwareInventory
  - action: aws:runPowerShellScript
    inputs: {}
    maxAttempts: -1
    onFailure: retry
  - name: pre
    action: aws:runShellScript
    precondition: {StringEquals: [platformType, Solaris]}
    inputs: {commands: x, runCommand: y}
  - name: pre2
    action: aws:runShellScript
    precondition: {StringLike: ["{{ good }}", x]}
    inputs: {runCommand: "cat <<'EOF'\n{{ good }}\nEOF"}
  - name: consts
    action: aws:runShellScript
    precondition: {StringEquals: [a, b]}
    finallyStep: true
    inputs: {runCommand: "echo $(( {{ good }} + 1 ))"}
  - name: last
    action: aws:runShellScript
    timeoutSeconds: 200000
    inputs: {runCommand: x}
`
	d, err := Parse([]byte(doc))
	require.NoError(t, err)
	err = d.Validate()
	require.Error(t, err)
	want := []string{
		`schemaVersion: "2.0" is not supported`,
		"parameter bad-name: name must be letters, digits and underscores",
		"parameter noType: type is required",
		`parameter pattern: allowedPattern: "(unclosed" is not a valid regular expression`,
		"parameter bounds: minItems 3 is greater than maxItems 1",
		"parameter bounds: minChars must not be negative",
		"parameter typo: Strng: unknown type; did you mean String?",
		`parameter badDefault: default must be an integer, got a string`,
		`parameter outOfValues: default value "c" is not one of the allowed values ["a", "b"]`,
		"parameter itemsOnString: minItems/maxItems apply only to StringList and MapList parameters",
		"step one: runCommand: {{ goood }}: no such parameter; did you mean good?",
		"step one: runCommand: {{ ssm:/db/password }}: Parameter Store references are not supported",
		"step one: input desinationPath: unknown input; known: runCommand, commands, workingDirectory, timeoutSeconds, onFailure, onSuccess, finallyStep",
		"step one: input workingDirectroy: unknown input; did you mean workingDirectory?",
		"step one: timeoutSeconds: 3 is outside 5..172800",
		"step one: workingDirectory: {{ bounds }}: a StringList parameter cannot stand here",
		"step one: duplicate step name (also mainSteps[0])",
		"step one: plugin aws:softwareInventory is not supported",
		"mainSteps[2]: name is required",
		"mainSteps[2]: runCommand: required",
		"mainSteps[2]: maxAttempts must not be negative",
		`mainSteps[2]: onFailure: must be "exit", "successAndExit" or "continue", got "retry"`,
		`step pre: precondition: platformType can be compared with Linux, Windows or MacOS, not "Solaris"`,
		"step pre: give either runCommand or commands, not both",
		"step pre2: precondition: operator StringLike is not supported",
		"step pre2: runCommand: placeholder {{ good }} is inside a quoted here-document",
		"step consts: precondition: StringEquals [\"a\", \"b\"] compares two constants",
		"step consts: finallyStep: only the last step can be the finally step",
		"step consts: runCommand: placeholder {{ good }} is inside an arithmetic expression",
		"step last: timeoutSeconds: 200000 is outside 5..172800",
	}
	for _, w := range want {
		require.Contains(t, err.Error(), w)
	}
	require.Len(t, strings.Split(err.Error(), "\n"), len(want), err.Error())
}

func TestValidateSchemaAndSteps(t *testing.T) {
	tests := []struct {
		name string
		doc  Document
		want string
	}{
		{"no schema", Document{MainSteps: []Step{{Name: "a", Action: ActionRunShellScript, Inputs: map[string]any{"runCommand": "x"}}}}, "schemaVersion: required"},
		{"no steps", Document{SchemaVersion: "2.2"}, "mainSteps: at least one step is required"},
		{"no action", Document{SchemaVersion: "2.2", MainSteps: []Step{{Name: "a"}}}, "step a: action is required"},
		{"bad step name", Document{SchemaVersion: "2.2", MainSteps: []Step{{Name: "../x", Action: ActionRunShellScript, Inputs: map[string]any{"runCommand": "x"}}}}, "step ../x: name must be"},
		{"empty runCommand", Document{SchemaVersion: "2.2", MainSteps: []Step{{Name: "a", Action: ActionRunShellScript, Inputs: map[string]any{"runCommand": []any{}}}}}, "step a: runCommand: must not be empty"},
		{"runCommand of numbers", Document{SchemaVersion: "2.2", MainSteps: []Step{{Name: "a", Action: ActionRunShellScript, Inputs: map[string]any{"runCommand": []any{int64(1)}}}}}, "step a: runCommand[0]: must be a string, got a number"},
		{"flow control twice", Document{SchemaVersion: "2.2", MainSteps: []Step{{Name: "a", Action: ActionRunShellScript, OnSuccess: "exit", Inputs: map[string]any{"runCommand": "x", "onSuccess": "stop"}}}}, `step a: onSuccess: given as "exit" on the step and "stop" in inputs`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.doc.Validate()
			require.ErrorContains(t, err, tt.want)
			require.False(t, errors.Is(err, ErrUnsupported))
		})
	}
}

func TestBuiltins(t *testing.T) {
	require.Equal(t, []string{"Stead-DownloadContent", "Stead-RunDocument", "Stead-RunPowerShellScript", "Stead-RunShellScript"}, BuiltinNames())
	tests := []struct{ name, canonical string }{
		{"Stead-RunShellScript", "Stead-RunShellScript"},
		{"AWS-RunShellScript", "Stead-RunShellScript"},
		{"Stead-RunPowerShellScript", "Stead-RunPowerShellScript"},
		{"AWS-RunPowerShellScript", "Stead-RunPowerShellScript"},
		{"Stead-RunDocument", "Stead-RunDocument"},
		{"AWS-RunDocument", "Stead-RunDocument"},
		{"Stead-DownloadContent", "Stead-DownloadContent"},
		{"AWS-DownloadContent", "Stead-DownloadContent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			canonical, content, ok := Builtin(tt.name)
			require.True(t, ok)
			require.Equal(t, tt.canonical, canonical)
			doc, err := Parse(content)
			require.NoError(t, err)
			require.NoError(t, doc.Validate())
		})
	}
	for _, missing := range []string{"", "nope", "Stead-RunShellScript.yaml", "../documents/Stead-RunShellScript", "stead-runshellscript"} {
		_, _, ok := Builtin(missing)
		require.False(t, ok, missing)
	}
}

func TestBuiltinGolden(t *testing.T) {
	script := map[string]any{
		"commands":         []any{"echo hello", "echo \"from {{ workingDirectory }}\""},
		"workingDirectory": "/srv/app",
		"executionTimeout": "600",
	}
	params := map[string]map[string]any{
		"Stead-RunShellScript":      script,
		"Stead-RunPowerShellScript": script,
		"Stead-RunDocument": {
			"documentPath":       "AWS-RunShellScript",
			"documentParameters": map[string]any{"commands": []any{"echo nested"}, "executionTimeout": "60"},
		},
		"Stead-DownloadContent": {
			"sourceType":      "HTTP",
			"sourceInfo":      map[string]any{"url": "https://example.com/files/agent.tar.gz", "sha256": strings.Repeat("ab", 32)},
			"destinationPath": "/opt/agent/",
		},
	}
	for _, name := range BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			canonical, content, ok := Builtin(name)
			require.True(t, ok)
			require.Contains(t, params, name, "built-in %s needs golden parameters", name)
			plan, err := Render(canonical, content, params[name])
			require.NoError(t, err)
			got, err := json.MarshalIndent(plan, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		})
	}
}

func TestBuiltinDefaultsAndTimeouts(t *testing.T) {
	_, content, _ := Builtin("AWS-RunShellScript")
	tests := []struct {
		name    string
		params  map[string]any
		timeout int
		err     string
	}{
		{"defaults", map[string]any{"commands": "true"}, DefaultTimeoutSeconds, ""},
		{"zero means default", map[string]any{"commands": "true", "executionTimeout": "0"}, DefaultTimeoutSeconds, ""},
		{"number from JSON", map[string]any{"commands": "true", "executionTimeout": float64(90)}, 90, ""},
		{"too short", map[string]any{"commands": "true", "executionTimeout": "4"}, 0, "step runShellScript: timeoutSeconds: 4 is outside 5..172800"},
		{"not digits", map[string]any{"commands": "true", "executionTimeout": "1h"}, 0, `parameter executionTimeout: value does not match allowedPattern`},
		{"commands required", map[string]any{}, 0, "parameter commands: a value is required"},
		{"commands minItems", map[string]any{"commands": []any{}}, 0, "parameter commands: has 0 items, fewer than the minimum 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Render("AWS-RunShellScript", content, tt.params)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.timeout, plan.Steps[0].TimeoutSeconds)
		})
	}
}
