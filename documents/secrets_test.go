package documents

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const secretDoc = `{
  "schemaVersion": "2.2",
  "parameters": {
    "password": {"type": "String"},
    "token": {"type": "String", "secret": true, "allowedPattern": "[a-z0-9]+"},
    "code": {"type": "String", "default": "true"},
    "dir": {"type": "String", "default": "/tmp"},
    "list": {"type": "StringList", "default": []}
  },
  "mainSteps": [{"action": "aws:runShellScript", "name": "run",
    "inputs": {"runCommand": ["echo \"{{ password }}\" {{ token }}", "{{ code }}"]}}]
}`

func TestSecretReferences(t *testing.T) {
	plan, err := Render("d", []byte(secretDoc), map[string]any{"password": "{{ssm-secure:/prod/db}}", "token": "abc123"})
	require.NoError(t, err)
	env := plan.Steps[0].Env
	require.Equal(t, []EnvVar{
		{Name: "SSM_password", Value: "{{ssm-secure:/prod/db}}", Secret: true},
		{Name: "SSM_token", Value: "abc123", Secret: true},
	}, env)
	require.NotContains(t, plan.Steps[0].Script, "abc123", "a secret is never script text")
	require.Equal(t, []EnvVar{
		{Name: "SSM_password", Value: "{{ssm-secure:/prod/db}}", Secret: true},
		{Name: "SSM_token", Value: Redacted, Secret: true},
	}, plan.Redacted().Steps[0].Env, "shown: the reference, never a value")
	require.Equal(t, "abc123", plan.Steps[0].Env[1].Value, "Redacted copies")

	// A reference skips the constraints it cannot meet: its value is on the worker.
	_, err = Render("d", []byte(secretDoc), map[string]any{"password": "x", "token": "{{ ssm-secure:tok }}"})
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		params map[string]any
		want   string
	}{
		"inside a longer value": {map[string]any{"password": "pre{{ssm-secure:x}}", "token": "a"}, "must be the whole value"},
		"plain ssm reference":   {map[string]any{"password": "{{ssm:x}}", "token": "a"}, "plain {{ssm:...}} references are not supported"},
		"not a String":          {map[string]any{"password": "a", "token": "a", "list": []any{"{{ssm-secure:x}}", "b"}}, "must be the whole value"},
		"as script code":        {map[string]any{"password": "a", "token": "a", "code": "{{ssm-secure:x}}"}, "parameter code is secret and cannot be script code"},
		"secret pattern":        {map[string]any{"password": "a", "token": "ABC"}, "does not match allowedPattern"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Render("d", []byte(secretDoc), tc.params)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err = Render("d", []byte(secretDoc), map[string]any{"password": "a", "token": "ABC"})
	require.NotContains(t, err.Error(), "ABC", "a rejected secret is not quoted")

	// Outside a script's environment a secret would be recorded as text.
	wd := strings.Replace(secretDoc, `"inputs": {`, `"inputs": {"workingDirectory": "{{ dir }}", `, 1)
	_, err = Render("d", []byte(wd), map[string]any{"password": "a", "token": "a", "dir": "{{ssm-secure:d}}"})
	require.ErrorContains(t, err, "it cannot stand in workingDirectory")
	_, err = Render("d", []byte(wd), map[string]any{"password": "a", "token": "a", "dir": "/srv"})
	require.NoError(t, err)
}

func TestParameterSizeLimits(t *testing.T) {
	big := strings.Repeat("x", MaxParameterValueBytes+1)
	doc := `{"schemaVersion": "2.2", "parameters": {"a": {"type": "String"}, "b": {"type": "String"}, "c": {"type": "String"}, "d": {"type": "String"}, "e": {"type": "String"}},
  "mainSteps": [{"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": ["echo {{a}} {{b}} {{c}} {{d}} {{e}}"]}}]}`
	_, err := Render("d", []byte(doc), map[string]any{"a": big, "b": "", "c": "", "d": "", "e": ""})
	require.ErrorContains(t, err, "parameter a: value is 65537 bytes, more than the limit of 65536")
	fill := strings.Repeat("y", MaxParameterValueBytes)
	_, err = Render("d", []byte(doc), map[string]any{"a": fill, "b": fill, "c": fill, "d": fill, "e": "z"})
	require.ErrorContains(t, err, "parameters: values are 262145 bytes together, more than the limit of 262144")
	require.Equal(t, 1, strings.Count(err.Error(), "\n")+1)
}

func TestSecretFieldParses(t *testing.T) {
	doc, err := Parse([]byte("schemaVersion: '2.2'\nparameters:\n  p: {type: String, secret: true}\nmainSteps: []\n"))
	require.NoError(t, err)
	require.True(t, doc.Parameters["p"].Secret)
}
