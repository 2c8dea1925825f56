package documents

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

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

// problems returns the message of every problem in err, a *ValidationError.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	var out []string
	for _, p := range ve.Problems {
		out = append(out, p.Error())
	}
	return out
}

func TestCheckReportsEverythingAtOnce(t *testing.T) {
	// Problems of shape (found while parsing) and of meaning (found while validating)
	// come back together: nobody fixes one kind only to meet the next.
	doc := `
schemaVersion: "2.2"
descripton: typo
parameters:
  good: {type: String, default: ok}
  bad-name: {type: String, default: x}
  noType: {description: forgot}
  pattern: {type: String, allowedPattern: "(unclosed"}
  bounds: {type: StringList, minItems: 3, maxItems: 1, minChars: -1}
  typo: {type: Strng}
  array: {type: Array}
  badDefault: {type: Integer, default: "twelve"}
  outOfValues: {type: String, default: c, allowedValues: [a, b]}
  itemsOnString: {type: String, minItems: 1}
  store: {type: String, default: "{{ ssm:/app/commands }}"}
  secure: {type: String, default: "{{ssm-secure:pw}}"}
  cfn: {type: String, default: "{{resolve:secretsmanager:db:SecretString:password}}"}
mainSteps:
  - name: one
    action: aws:runShellScript
    nextStep: two
    inputs:
      runCommand: ["echo {{ goood }}", "echo {{ ssm:/db/password }}"]
      desinationPath: /tmp
      workingDirectroy: /tmp
      timeoutSeconds: 3
      workingDirectory: "{{ bounds }}"
  - name: one
    action: aws:softwareInventory
  - action: aws:runPowerShellScript
    inputs: {maxAttempts: "many"}
    maxAttempts: -1
    onFailure: retry
  - name: pre
    action: aws:runShellScript
    precondition: {StringEquals: [platformType, Solaris]}
    inputs: {commands: x, runCommand: y}
  - name: pre2
    action: aws:runShellScript
    precondition: {StringLike: ["{{ good }}", x]}
    inputs: {runCommand: "cat <<'E O F'\n{{ good }}\nE O F"}
  - name: consts
    action: aws:runShellScript
    precondition: {StringEquals: [a, "{{ ssm-secure:pw }}"]}
    finallyStep: true
    isEnd: true
    onFailure: continue
    inputs: {runCommand: "echo $(( {{ bounds }} + 1 ))"}
  - name: last
    action: aws:runShellScript
    timeoutSeconds: 200000
    inputs: {runCommand: ["mkdir ~x{{ good }}", "echo ${{ good }}"], maxAttempts: 2}
    maxAttempts: 3
`
	_, warnings, err := Check([]byte(doc))
	want := []string{
		"descripton: unknown key; did you mean description?",
		"step one: nextStep: a key of Automation runbook steps, not of Command documents",
		"parameter array: type Array is not a type of SSM parameters (SSM refuses it too); a list of strings is a StringList",
		"parameter bad-name: name must be letters, digits and underscores (it becomes the environment variable SSM_bad-name)",
		"parameter badDefault: default must be an integer, got a string",
		"parameter bounds: minItems 3 is greater than maxItems 1",
		"parameter bounds: minChars must not be negative",
		"parameter cfn: default: {{resolve:...}} is a CloudFormation dynamic reference, which only CloudFormation resolves (in templates); give the value when the document runs",
		"parameter itemsOnString: minItems/maxItems apply only to StringList and MapList parameters",
		"parameter noType: type is required (one of String, StringList, Integer, Boolean, StringMap, MapList)",
		`parameter outOfValues: default value "c" is not one of the allowed values ["a", "b"]`,
		"parameter pattern: allowedPattern: \"(unclosed\" is not a valid regular expression: error parsing regexp: missing closing ): `^(?:(unclosed)$`",
		"parameter secure: default: a Parameter Store reference in a default must be the whole value and of the form {{ssm:NAME}}; a SecureString cannot be a default (SSM refuses it too)",
		"parameter typo: Strng: unknown type; did you mean String?",
		"step one: input desinationPath: unknown input; known: runCommand, commands, workingDirectory, timeoutSeconds, onFailure, onSuccess, finallyStep, maxAttempts, id",
		"step one: input workingDirectroy: unknown input; did you mean workingDirectory?",
		"step one: runCommand: {{ goood }}: no such parameter; did you mean good?",
		"step one: runCommand: {{ ssm:/db/password }}: Stead has no Parameter Store to read; declare a parameter here and give it the value when the document runs",
		"step one: workingDirectory: {{ bounds }}: a StringList parameter cannot stand here (only String, Integer)",
		"step one: timeoutSeconds: 3 is outside 5..172800",
		"step one: duplicate step name (also mainSteps[0])",
		"step one: plugin aws:softwareInventory is not supported",
		"mainSteps[2]: name is required",
		"mainSteps[2]: runCommand: required",
		`mainSteps[2]: maxAttempts: must be a whole number, got "many"`,
		"mainSteps[2]: maxAttempts must not be negative",
		`mainSteps[2]: onFailure: must be "exit", "successAndExit" or "continue", got "retry"`,
		"step pre: give either runCommand or commands, not both",
		`step pre: precondition: platformType can be compared with Linux, Windows or MacOS, not "Solaris"`,
		`step pre2: runCommand: placeholder {{ good }} is inside a quoted here-document whose delimiter "E O F" cannot be written unquoted; use a delimiter of letters and digits`,
		"step pre2: precondition: operator StringLike is not supported; only StringEquals is",
		"step consts: runCommand: placeholder {{ bounds }} is inside an arithmetic expression, where the shell evaluates its value: only an Integer, or a String holding an integer, may stand there",
		`step consts: isEnd: the document ends after this step, which onFailure "continue" contradicts`,
		"step consts: precondition: {{ ssm-secure:pw }}: a SecureString cannot stand in a precondition (the SSM agent refuses it too)",
		"step last: timeoutSeconds: 200000 is outside 5..172800",
		"step last: maxAttempts: given as 3 on the step and 2 in inputs",
	}
	require.Equal(t, want, problems(t, err))
	require.Contains(t, err.Error(), fmt.Sprintf("... and %d more problems (%d in all)", len(want)-MaxShownProblems, len(want)))
	require.Len(t, strings.Split(err.Error(), "\n"), MaxShownProblems+1)
	var got []string
	for _, w := range warnings {
		got = append(got, w.String())
	}
	require.Equal(t, []string{
		"parameter store: default {{ ssm:/app/commands }} reads Parameter Store, which Stead does not have: give store a value when the document runs",
		"step consts: finallyStep is ignored: only the last step can be the finally step (the SSM agent ignores it too)",
		"step last: line 1: the text after ~ mixes a placeholder with other characters, which the shell does not expand as a user's home directory as SSM's text would; write ~{{ name }} with the placeholder alone before /",
		"step last: line 2: ${{ good }} reads the variable whose name is the value of good, as under SSM; for the value itself write {{ good }}",
	}, got)
}

func TestValidationMessageIsBounded(t *testing.T) {
	// 5,000 steps of the same name, by YAML alias: 4,999 duplicates.
	doc := "schemaVersion: '2.2'\nx: &s {name: same, action: aws:runShellScript, inputs: {runCommand: 'true'}}\nmainSteps: [" +
		strings.TrimSuffix(strings.Repeat("*s, ", 5000), ", ") + "]\n"
	_, _, err := Check([]byte(doc))
	require.Len(t, problems(t, err), 5000) // and the unknown key x
	require.Less(t, len(err.Error()), 2000)
	require.True(t, strings.HasSuffix(err.Error(), "\n... and 4980 more problems (5000 in all)"), err.Error())
}

func TestValidateSchemaAndSteps(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"no schema", `{"mainSteps": [{"name": "a", "action": "aws:runShellScript", "inputs": {"runCommand": "x"}}]}`, "schemaVersion: required (1.2, 2.0, 2.2)"},
		{"not a Command schema", `{"schemaVersion": "2.0.1", "mainSteps": [{"name": "a", "action": "aws:runShellScript", "inputs": {"runCommand": "x"}}]}`,
			`schemaVersion: "2.0.1" is not a schema of Command documents, which use 1.2, 2.0, 2.2`},
		{"automation", `{"schemaVersion": "0.3", "assumeRole": "x", "mainSteps": []}`, "assumeRole: a key of Automation runbooks (schemaVersion 0.3), not of Command documents"},
		{"no steps", `{"schemaVersion": "2.2"}`, "mainSteps: at least one step is required"},
		{"no plugins", `{"schemaVersion": "1.2", "runtimeConfig": {}}`, "runtimeConfig: at least one plugin is required"},
		{"1.2 with mainSteps", `{"schemaVersion": "1.2", "mainSteps": [], "runtimeConfig": {"aws:runShellScript": {"properties": [{"runCommand": "x"}]}}}`,
			"mainSteps: schemaVersion 1.2 documents have runtimeConfig instead; mainSteps needs schemaVersion 2.0 or 2.2"},
		{"2.2 with runtimeConfig", `{"schemaVersion": "2.2", "runtimeConfig": {"aws:runShellScript": {"properties": [{"runCommand": "x"}]}}}`,
			"runtimeConfig: only schemaVersion 1.2 documents have it; schemaVersion 2.2 documents have mainSteps"},
		{"1.2 plugin shape", `{"schemaVersion": "1.2", "runtimeConfig": {"aws:runShellScript": {"properties": ["x"], "setings": {}}}}`,
			"runtimeConfig.aws:runShellScript: setings: unknown key; did you mean settings?\nruntimeConfig.aws:runShellScript.properties[0]: must be a mapping, got a string"},
		{"1.2 input typo", `{"schemaVersion": "1.2", "runtimeConfig": {"aws:runShellScript": {"properties": {"runCommand": "x", "workingDirectroy": "/"}}}}`,
			"runtimeConfig.aws:runShellScript.properties[0]: input workingDirectroy: unknown input; did you mean workingDirectory?"},
		{"1.2 runDocument", `{"schemaVersion": "1.2", "runtimeConfig": {"aws:runDocument": {"properties": [{"documentType": "SSMDocument", "documentPath": "x"}]}}}`,
			"runtimeConfig.aws:runDocument.properties[0]: plugin aws:runDocument needs schemaVersion 2.0 or later"},
		{"no action", `{"schemaVersion": "2.2", "mainSteps": [{"name": "a"}]}`, "step a: action is required"},
		{"bad step name", `{"schemaVersion": "2.2", "mainSteps": [{"name": "../x", "action": "aws:runShellScript", "inputs": {"runCommand": "x"}}]}`,
			`mainSteps[0] (name "../x"): name must be 1 to 128 letters`},
		{"empty runCommand", `{"schemaVersion": "2.2", "mainSteps": [{"name": "a", "action": "aws:runShellScript", "inputs": {"runCommand": []}}]}`, "step a: runCommand: must not be empty"},
		{"runCommand of numbers", `{"schemaVersion": "2.2", "mainSteps": [{"name": "a", "action": "aws:runShellScript", "inputs": {"runCommand": [1]}}]}`, "step a: runCommand[0]: must be a string, got a number"},
		{"flow control twice", `{"schemaVersion": "2.2", "mainSteps": [{"name": "a", "action": "aws:runShellScript", "onSuccess": "exit", "inputs": {"runCommand": "x", "onSuccess": "stop"}}]}`,
			`step a: onSuccess: given as "exit" on the step and "stop" in inputs`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Check([]byte(tt.doc))
			require.ErrorContains(t, err, tt.want)
			require.False(t, errors.Is(err, ErrUnsupported))
		})
	}
}

func TestBuiltins(t *testing.T) {
	require.Equal(t, []string{"Stead-ConfigureNetwork", "Stead-DownloadContent", "Stead-GatherInventory", "Stead-InstallPackages", "Stead-JoinDomain", "Stead-RunDocument", "Stead-RunPatchBaseline", "Stead-RunPowerShellScript", "Stead-RunShellScript", "Stead-UpdateSoftware"}, BuiltinNames())
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
		"Stead-InstallPackages": {"Packages": []any{"nginx", "curl=7.88.1-10+deb12u8"}, "Mode": "Validate"},
		"Stead-UpdateSoftware": {"Path": "/usr/local/bin/agent", "Url": "https://example.com/agent-2", "Sha256": strings.Repeat("ab", 32),
			"Service": "agent", "HealthCheck": []any{"/usr/local/bin/agent", "--health"}},
		"Stead-ConfigureNetwork": {"Interface": "eth0", "Addresses": []any{"10.0.0.5/24"}, "Routes": []any{"default=10.0.0.1"},
			"DNS": []any{"10.0.0.2"}, "MTU": "9000"},
		"Stead-GatherInventory":  {"Sections": []any{"OS", "Packages"}},
		"Stead-RunPatchBaseline": {"Operation": "Install", "ApprovedPatches": []any{"nginx"}, "RejectedPatches": []any{"openssl"}, "RebootOption": "NoReboot"},
		"Stead-JoinDomain": {"DomainName": "corp.example.com", "Password": "{{ssm-secure:join_password}}", "DomainController": "dc1.corp.example.com",
			"ComputerOU": "OU=Servers,DC=corp,DC=example,DC=com"},
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
			if !slices.Contains([]string{"Stead-RunShellScript", "Stead-RunPowerShellScript", "Stead-RunDocument", "Stead-DownloadContent"}, name) {
				// A job document's scripts hold no placeholder: parameters
				// reach them only as SSM_<name> variables, never as code.
				doc, err := Parse(content)
				require.NoError(t, err)
				for _, step := range doc.MainSteps {
					elements, _, _ := commandElements(step)
					for _, e := range elements {
						require.NotContains(t, e, "{{", "%s: a placeholder in the script of step %s", name, step.Name)
					}
				}
				require.NotEmpty(t, plan.Steps[0].Env)
			}
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
		{"zero refused, as by SSM's pattern", map[string]any{"commands": "true", "executionTimeout": "0"}, 0, "parameter executionTimeout: value does not match allowedPattern"},
		{"the longest", map[string]any{"commands": "true", "executionTimeout": "172800"}, MaxTimeoutSeconds, ""},
		{"too long", map[string]any{"commands": "true", "executionTimeout": "172801"}, 0, "parameter executionTimeout: value does not match allowedPattern"},
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

// Stead-JoinDomain takes its password only as a reference to a worker's secret, and
// values that could be options or code are refused before anything runs.
func TestJoinDomainParameters(t *testing.T) {
	_, content, ok := Builtin("Stead-JoinDomain")
	require.True(t, ok)
	tests := []struct {
		name   string
		params map[string]any
		err    string
	}{
		{"a reference", map[string]any{"DomainName": "stead.test", "Password": "{{ssm-secure:join}}"}, ""},
		{"Validate needs no password", map[string]any{"DomainName": "stead.test", "Mode": "Validate"}, ""},
		{"a plain password", map[string]any{"DomainName": "stead.test", "Password": "Sup3r-secret"}, "parameter Password: value does not match allowedPattern"},
		{"a reference inside text", map[string]any{"DomainName": "stead.test", "Password": "x{{ssm-secure:join}}"}, "parameter store reference must be the whole value"},
		{"a single-label domain", map[string]any{"DomainName": "stead"}, "parameter DomainName: value does not match allowedPattern"},
		{"an option as domain", map[string]any{"DomainName": "--verbose.test"}, "parameter DomainName: value does not match allowedPattern"},
		{"code as user", map[string]any{"DomainName": "stead.test", "Username": "a;reboot"}, "parameter Username: value does not match allowedPattern"},
		{"an option as controller", map[string]any{"DomainName": "stead.test", "DomainController": "-x"}, "parameter DomainController: value does not match allowedPattern"},
		{"an OU", map[string]any{"DomainName": "stead.test", "ComputerOU": "OU=Linux Servers,DC=stead,DC=test"}, ""},
		{"not an OU", map[string]any{"DomainName": "stead.test", "ComputerOU": "$(reboot)"}, "parameter ComputerOU: value does not match allowedPattern"},
		{"an unknown action", map[string]any{"DomainName": "stead.test", "Action": "Reset"}, "parameter Action: value \"Reset\" is not one of the allowed values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Render("Stead-JoinDomain", content, tt.params)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.NotContains(t, err.Error(), "Sup3r-secret", "a refused password is not repeated")
				return
			}
			require.NoError(t, err)
			require.Len(t, plan.Steps, 2)
		})
	}
}

// projectDocuments are the documents of testdata written for Stead, with the values they
// render with: each exercises what the corpus of public documents does.
var projectDocuments = map[string]map[string]any{
	"schema-1.2-shell.json":      nil,
	"schema-1.2-powershell.yaml": nil,
	"schema-2.0-steps.yaml":      nil,
	"ssm-interpolation.yaml":     {"commands": []any{"echo given"}},
}

func TestProjectDocuments(t *testing.T) {
	files, err := filepath.Glob("testdata/*.[jy]*")
	require.NoError(t, err)
	require.Len(t, files, len(projectDocuments))
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			params, known := projectDocuments[name]
			require.True(t, known, "add %s to projectDocuments", name)
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			_, warnings, err := Check(data)
			require.NoError(t, err)
			plan, err := Render(name, data, params)
			require.NoError(t, err)
			var got strings.Builder
			for _, w := range warnings {
				fmt.Fprintf(&got, "warning: %s\n", w)
			}
			b, err := json.MarshalIndent(plan, "", "  ")
			require.NoError(t, err)
			got.Write(append(b, '\n'))
			golden := strings.TrimSuffix(file, filepath.Ext(file)) + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got.String()), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), got.String())
		})
	}
}

func TestProjectDocumentsRun(t *testing.T) {
	data, err := os.ReadFile("testdata/ssm-interpolation.yaml")
	require.NoError(t, err)
	plan, err := Render("ssm-interpolation", data, projectDocuments["ssm-interpolation.yaml"])
	require.NoError(t, err)
	home := t.TempDir()
	out, _ := runSh(t, "sh", plan.Steps[0].Script, append(plan.Steps[0].Env, EnvVar{Name: "HOME", Value: home}))
	require.Equal(t, "home= /root/x\nvariable="+home+"\npackage=one\npackage=two\npackage=three\nwords=3\nnext=42\n"+
		"literal $HOME `id` and root\n", out)
	_, err = Render("ssm-interpolation", data, nil)
	require.ErrorContains(t, err, "parameter commands: a value is required: its default {{ ssm:/stead/test/commands }} reads Parameter Store, which Stead does not have")

	data, err = os.ReadFile("testdata/schema-2.0-steps.yaml")
	require.NoError(t, err)
	plan, err = Render("schema-2.0-steps", data, nil)
	require.NoError(t, err)
	first, last := plan.Steps[0], plan.Steps[1]
	require.Empty(t, first.Platforms, "schema 2.0 evaluates no precondition")
	require.Equal(t, 2, first.MaxAttempts)
	require.Equal(t, 60, first.TimeoutSeconds)
	require.Equal(t, OnSuccessExit, last.OnSuccess)
	require.Equal(t, OnFailureExit, last.OnFailure)
}
