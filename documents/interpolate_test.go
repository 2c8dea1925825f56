package documents

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hostileValues are parameter values that would run "touch pwned" (or break quoting) if
// they were ever pasted into the script.
var hostileValues = map[string]string{
	"semicolon":        "x; touch pwned",
	"command subst":    "$(touch pwned)",
	"backticks":        "`touch pwned`",
	"newline":          "a\ntouch pwned",
	"single quotes":    "'; touch pwned; echo '",
	"double quotes":    `"; touch pwned; echo "`,
	"mixed quotes":     `'"'"'$(touch pwned)'"`,
	"backslashes":      `\\"\'; touch pwned #`,
	"unicode":          "héllo wörld ☃ \u202e ‘q’ “q”",
	"glob":             "*",
	"spaces":           "  two  spaces  ",
	"option-like":      "-n",
	"variable":         "${HOME} $PATH",
	"placeholder-like": "{{ other }}",
	"heredoc end":      "EOF\ntouch pwned",
	"empty":            "",
}

// shellContexts place {{ v }} in every quoting context; want is what the script prints,
// with V standing for the value.
var shellContexts = []struct {
	name     string
	commands []string
	want     string
}{
	{"unquoted", []string{`printf '%s\n' {{ v }}`}, "V"},
	{"unquoted adjacent", []string{`printf '%s\n' pre{{v}}post`}, "preVpost"},
	{"double quotes", []string{`printf '%s\n' "{{ v }}"`}, "V"},
	{"double quotes with text", []string{`printf '%s\n' "pre {{ v }} post"`}, "pre V post"},
	{"single quotes", []string{`printf '%s\n' '{{ v }}'`}, "V"},
	{"single quotes with text", []string{`printf '%s\n' 'it''s {{ v }} $HOME'`}, "its V $HOME"},
	{"escaped quote before", []string{`printf '%s\n' \'{{ v }}\'`}, "'V'"},
	{"command substitution", []string{`x="$(printf '%s' {{ v }})"; printf '%s\n' "$x"`}, "V"},
	{"command substitution in quotes", []string{`printf '%s\n' "$(printf '%s' '{{ v }}')"`}, "V"},
	{"backticks", []string{"x=`printf '%s' {{ v }}`; printf '%s\\n' \"$x\""}, "V"},
	{"heredoc", []string{"cat <<EOF", "{{ v }}", "EOF"}, "V"},
	{"heredoc with text", []string{"cat <<-END", "\t[{{ v }}] \"q\" 'q'", "\tEND"}, "[V] \"q\" 'q'"},
	{"comment with apostrophe", []string{`printf '%s\n' "{{ v }}" # it's {{ v }}`}, "V"},
	{"single quote across lines", []string{`printf '%s\n' 'first`, `{{ v }}'`}, "first\nV"},
	{"case pattern", []string{`case {{ v }} in`, `*) printf '%s\n' {{ v }};;`, `esac`}, "V"},
	{"if test", []string{`if [ "{{ v }}" = "{{ v }}" ]; then printf '%s\n' ok; fi`}, "ok"},
}

// runSh runs script with sh in a fresh directory and returns its output and the directory.
func runSh(t *testing.T, shell, script string, env []EnvVar) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(shell, "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/nonexistent"}
	for _, e := range env {
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "script:\n%s\nstderr:\n%s", script, stderr.String())
	return stdout.String(), dir
}

func shellDocument(t *testing.T, commands []string, params string) []byte {
	t.Helper()
	doc := map[string]any{
		"schemaVersion": "2.2",
		"parameters":    json.RawMessage(params),
		"mainSteps": []any{map[string]any{
			"action": ActionRunShellScript, "name": "run",
			"inputs": map[string]any{"runCommand": commands},
		}},
	}
	data, err := json.Marshal(doc)
	require.NoError(t, err)
	return data
}

func TestInjectionShell(t *testing.T) {
	shells := []string{"sh"}
	if _, err := exec.LookPath("bash"); err == nil {
		shells = append(shells, "bash")
	}
	for _, shell := range shells {
		for _, c := range shellContexts {
			for vname, value := range hostileValues {
				t.Run(shell+"/"+c.name+"/"+vname, func(t *testing.T) {
					content := shellDocument(t, c.commands, `{"v": {"type": "String"}, "other": {"type": "String", "default": "INTERPOLATED"}}`)
					plan, err := Render("injection", content, map[string]any{"v": value})
					require.NoError(t, err)
					step := plan.Steps[0]
					require.NotContains(t, step.Script, "pwned")
					out, dir := runSh(t, shell, step.Script, step.Env)
					want := strings.ReplaceAll(c.want, "V", value) + "\n"
					require.Equal(t, want, out, "script:\n%s", step.Script)
					_, err = os.Stat(filepath.Join(dir, "pwned"))
					require.True(t, os.IsNotExist(err), "the value ran as code:\n%s", step.Script)
				})
			}
		}
	}
}

func TestInjectionNonStringValues(t *testing.T) {
	params := `{"list": {"type": "StringList"}, "map": {"type": "StringMap"}, "n": {"type": "Integer"}, "b": {"type": "Boolean"}}`
	commands := []string{
		`printf '%s\n' {{ list }} '{{ map }}' "{{ n }}" {{ b }}`,
		`printf '%s\n' $(( {{ n }} + 1 ))`,
	}
	plan, err := Render("values", shellDocument(t, commands, params), map[string]any{
		"list": []any{"$(touch pwned)", "b"},
		"map":  map[string]any{"k": "`touch pwned`", "<": ">"},
		"n":    "41",
		"b":    true,
	})
	require.NoError(t, err)
	out, dir := runSh(t, "sh", plan.Steps[0].Script, plan.Steps[0].Env)
	require.Equal(t, "[\"$(touch pwned)\",\"b\"]\n{\"<\":\">\",\"k\":\"`touch pwned`\"}\n41\ntrue\n42\n", out)
	_, err = os.Stat(filepath.Join(dir, "pwned"))
	require.True(t, os.IsNotExist(err))
}

func TestCommandsParameterIsCode(t *testing.T) {
	// A whole runCommand element of a String/StringList parameter is the script: the operator
	// gives code on purpose. Values inside it are not interpolated again.
	_, content, _ := Builtin("AWS-RunShellScript")
	plan, err := Render("AWS-RunShellScript", content, map[string]any{
		"commands": []any{"touch made", "printf '%s\\n' '{{ workingDirectory }}'"},
	})
	require.NoError(t, err)
	out, dir := runSh(t, "sh", plan.Steps[0].Script, plan.Steps[0].Env)
	require.Equal(t, "{{ workingDirectory }}\n", out)
	_, err = os.Stat(filepath.Join(dir, "made"))
	require.NoError(t, err)
}

func TestEnvVarInterpolationType(t *testing.T) {
	params := `{"msg": {"type": "String", "interpolationType": "ENV_VAR"}, "unused": {"type": "String", "default": "u", "interpolationType": "ENV_VAR"}}`
	content := shellDocument(t, []string{"{{ msg }}", `printf '%s|%s\n' "$SSM_msg" "$SSM_unused"`}, params)
	plan, err := Render("envvar", content, map[string]any{"msg": "touch pwned"})
	require.NoError(t, err)
	step := plan.Steps[0]
	require.Equal(t, []EnvVar{{Name: "SSM_msg", Value: "touch pwned"}, {Name: "SSM_unused", Value: "u"}}, step.Env)
	// Even a whole element is data for an ENV_VAR parameter: it is a (not found) command
	// name, never parsed as code.
	require.True(t, strings.HasPrefix(step.Script, `"${SSM_msg}"`+"\n"), step.Script)
}

func TestShellRenderingRefused(t *testing.T) {
	tests := []struct {
		name     string
		commands []string
		want     string
	}{
		{"quoted heredoc", []string{"cat <<'EOF'", "{{ v }}", "EOF"}, "inside a quoted here-document"},
		{"escaped heredoc", []string{`cat <<\EOF`, "{{ v }}", "EOF"}, "inside a quoted here-document"},
		{"arithmetic", []string{"echo $(( {{ v }} * 2 ))"}, "inside an arithmetic expression"},
		{"bash arithmetic command", []string{"(( x = {{ v }} ))"}, "inside an arithmetic expression"},
		{"NUL in script", []string{"echo \x00"}, "contains a NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render("refused", shellDocument(t, tt.commands, `{"v": {"type": "String", "default": "1"}}`), nil)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRenderShellText(t *testing.T) {
	tests := []struct{ template, want string }{
		{`echo {{ v }}`, `echo "${SSM_v}"`},
		{`echo "a{{v}}b"`, `echo "a${SSM_v}b"`},
		{`echo 'a{{v}}b'`, `echo 'a'"${SSM_v}"'b'`},
		{`echo \{{v}}`, `echo \\"${SSM_v}"`},
		{`echo "\{{v}}"`, `echo "\\${SSM_v}"`},
		{"echo \"`echo {{v}}`\"", "echo \"`echo ${SSM_v}`\""},
		{"echo `echo {{v}}`", "echo `echo \"${SSM_v}\"`"},
		{`echo "$(echo {{v}})"`, `echo "$(echo "${SSM_v}")"`},
		{`echo $((1<<2)) {{v}}`, `echo $((1<<2)) "${SSM_v}"`},
		{"echo a#{{v}}", `echo a#"${SSM_v}"`},
		{"# don't {{v}}\necho {{v}}", "# don't ${SSM_v}\necho \"${SSM_v}\""},
		{"cat <<EOF; echo {{v}}\n'{{v}}'\nEOF\necho '{{v}}'", "cat <<EOF; echo \"${SSM_v}\"\n'${SSM_v}'\nEOF\necho ''\"${SSM_v}\"''"},
		{"echo {{.Names}} {{ssm:x", "echo {{.Names}} {{ssm:x"},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			var tmpl scriptTemplate
			tmpl.addTemplate(tt.template)
			got, refs, err := renderShell(&tmpl, nil, func(string) bool { return false })
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			if strings.Contains(tt.want, "SSM_v") {
				require.Equal(t, map[string]bool{"v": true}, refs)
			}
		})
	}
}

func TestRenderPowerShellText(t *testing.T) {
	tests := []struct{ template, want string }{
		{`Write-Host {{ v }}`, `Write-Host ${env:SSM_v}`},
		{`Write-Host "a {{v}} b"`, `Write-Host "a ${env:SSM_v} b"`},
		{`$u = '{{v}}'`, `$u = "${env:SSM_v}"`},
		{"Write-Host 'it''s `$x \"{{v}}\"'", "Write-Host \"it's ```$x `\"${env:SSM_v}`\"\""},
		{`Write-Host 'no placeholder $x'`, `Write-Host 'no placeholder $x'`},
		{"Write-Host \u2018smart {{v}}\u2019", "Write-Host \"smart ${env:SSM_v}\""},
		{"Write-Host \"a `{{v}}\"", "Write-Host \"a ``${env:SSM_v}\""},
		{"# it's {{v}}\nWrite-Host {{v}}", "# it's ${env:SSM_v}\nWrite-Host ${env:SSM_v}"},
		{"<# it's\n{{v}} #> '{{v}}'", "<# it's\n${env:SSM_v} #> \"${env:SSM_v}\""},
		{"$s = @\"\nsay \"{{v}}\" 'x'\n\"@\n'{{v}}'", "$s = @\"\nsay \"${env:SSM_v}\" 'x'\n\"@\n\"${env:SSM_v}\""},
		{`Write-Host "$(Get-Date '{{v}}')"`, `Write-Host "$(Get-Date "${env:SSM_v}")"`},
		{`Write-Host 'unterminated {{v}}`, `Write-Host "unterminated ${env:SSM_v}"`},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			var tmpl scriptTemplate
			tmpl.addTemplate(tt.template)
			got, _, err := renderPowerShell(&tmpl, nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	var tmpl scriptTemplate
	tmpl.addTemplate("$s = @'\n{{v}}\n'@")
	_, _, err := renderPowerShell(&tmpl, nil)
	require.ErrorContains(t, err, "inside a single-quoted here-string")
}
