package documents

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// ifsFields splits text as the shell splits an unquoted expansion with the default IFS.
func ifsFields(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
}

// lines is what printf '%s\n' prints for these arguments.
func lines(args ...string) string {
	if len(args) == 0 {
		return "\n"
	}
	return strings.Join(args, "\n") + "\n"
}

// literal is a context's output when it prints the value as it is.
func literal(format string) func(string) string {
	return func(v string) string { return strings.ReplaceAll(format, "V", v) }
}

// shellContexts place {{ v }} in every quoting context; want is what the script prints
// for value v: what it prints under SSM's textual substitution, for values that do not
// break out of where they stand (words split where unquoted; quotes and $ inside the
// value stay text).
var shellContexts = []struct {
	name     string
	commands []string
	want     func(v string) string
}{
	{"unquoted", []string{`printf '%s\n' {{ v }}`}, func(v string) string { return lines(ifsFields(v)...) }},
	{"unquoted adjacent", []string{`printf '%s\n' pre{{v}}post`}, func(v string) string { return lines(ifsFields("pre" + v + "post")...) }},
	{"for list", []string{`for w in {{ v }}; do printf '<%s>\n' "$w"; done`}, func(v string) string {
		var out strings.Builder
		for _, f := range ifsFields(v) {
			out.WriteString("<" + f + ">\n")
		}
		return out.String()
	}},
	{"double quotes", []string{`printf '%s\n' "{{ v }}"`}, literal("V\n")},
	{"double quotes with text", []string{`printf '%s\n' "pre {{ v }} post"`}, literal("pre V post\n")},
	{"single quotes", []string{`printf '%s\n' '{{ v }}'`}, literal("V\n")},
	{"single quotes with text", []string{`printf '%s\n' 'it''s {{ v }} $HOME'`}, literal("its V $HOME\n")},
	{"escaped quote before", []string{`printf '%s\n' \'{{ v }}\'`}, func(v string) string { return lines(ifsFields("'" + v + "'")...) }},
	{"command substitution", []string{`x="$(printf '%s' {{ v }})"; printf '%s\n' "$x"`}, func(v string) string { return strings.Join(ifsFields(v), "") + "\n" }},
	{"command substitution in quotes", []string{`printf '%s\n' "$(printf '%s' '{{ v }}')"`}, literal("V\n")},
	{"backticks", []string{"x=`printf '%s' {{ v }}`; printf '%s\\n' \"$x\""}, func(v string) string { return strings.Join(ifsFields(v), "") + "\n" }},
	{"heredoc", []string{"cat <<EOF", "{{ v }}", "EOF"}, literal("V\n")},
	{"heredoc with text", []string{"cat <<-END", "\t[{{ v }}] \"q\" 'q'", "\tEND"}, literal("[V] \"q\" 'q'\n")},
	{"quoted heredoc", []string{"cat <<'EOF'", "[{{ v }}] $HOME `x` \\ \\$ '$(id)'", "EOF"}, literal("[V] $HOME `x` \\ \\$ '$(id)'\n")},
	{"quoted heredoc, dash", []string{"cat <<-\\END", "\t${{ v }}\\", "\tEND"}, literal("$V\\\n")},
	{"comment with apostrophe", []string{`printf '%s\n' "{{ v }}" # it's {{ v }}`}, literal("V\n")},
	{"single quote across lines", []string{`printf '%s\n' 'first`, `{{ v }}'`}, literal("first\nV\n")},
	{"case pattern", []string{`case {{ v }} in`, `*) printf '%s\n' {{ v }};;`, `esac`}, func(v string) string { return lines(ifsFields(v)...) }},
	{"if test", []string{`if [ "{{ v }}" = "{{ v }}" ]; then printf '%s\n' ok; fi`}, literal("ok\n")},
	{"command name", []string{`{{ v }} 2>/dev/null || printf '%s\n' not-a-command`}, literal("not-a-command\n")},
	// A value that is not a plain user or variable name stays text after ~ and $.
	{"tilde", []string{`printf '%s\n' ~{{ v }}`}, func(v string) string {
		if v == "" {
			return "/nonexistent\n" // ~ alone is $HOME
		}
		return "~" + v + "\n"
	}},
	{"dollar", []string{`printf '%s\n' "${{ v }}"`}, literal("$V\n")},
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
					require.Equal(t, c.want(value), out, "script:\n%s", step.Script)
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
	// A list stands as its JSON text, split into words where it is unquoted, as SSM's text is.
	require.Equal(t, "[\"$(touch\npwned)\",\"b\"]\n{\"<\":\">\",\"k\":\"`touch pwned`\"}\n41\ntrue\n42\n", out)
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
	params := `{"v": {"type": "String", "default": "1"}, "list": {"type": "StringList", "default": ["1"]}}`
	tests := []struct {
		name     string
		commands []string
		params   map[string]any
		want     string
	}{
		{"odd quoted heredoc delimiter", []string{"cat <<'E O F'", "{{ v }}", "E O F"}, nil, `inside a quoted here-document whose delimiter "E O F" cannot be written unquoted`},
		{"list in arithmetic", []string{"echo $(( {{ list }} * 2 ))"}, nil, "inside an arithmetic expression"},
		{"text in arithmetic", []string{"echo $(( {{ v }} * 2 ))"}, map[string]any{"v": "a[$(touch pwned)]"}, "parameter v: its value stands in an arithmetic expression"},
		{"text in bash arithmetic command", []string{"(( x = {{ v }} ))"}, map[string]any{"v": "x"}, "parameter v: its value stands in an arithmetic expression"},
		{"dollar in arithmetic", []string{"echo $(( ${{ v }} ))"}, nil, "$ before placeholder {{ v }} inside an arithmetic expression"},
		{"NUL in script", []string{"echo \x00"}, nil, "contains a NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render("refused", shellDocument(t, tt.commands, params), tt.params)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// TestInterpolationMatchesSSM runs each script as SSM would run it (its placeholders
// replaced by their values' text) and as Stead renders it, and requires the same output:
// for ordinary values, a rendered script means what the document means under SSM.
func TestInterpolationMatchesSSM(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name     string
		commands []string
		values   map[string]any
	}{
		{"words of an argument", []string{"set -- {{ pkgs }}", `echo "$# $2"`}, map[string]any{"pkgs": "httpd  php\tmod_ssl"}},
		{"for list", []string{"for f in {{ files }}; do echo \"<$f>\"; done"}, map[string]any{"files": "a b c"}},
		{"home of a user", []string{"echo ~{{ user }}/.ssh ~{{ user }} ~{{ none }}"}, map[string]any{"user": "root", "none": ""}},
		{"home of an unknown user", []string{"echo ~{{ user }}/x"}, map[string]any{"user": "no-such-user-here"}},
		{"variable named by a value", []string{`echo "${{ name }}" ${{ name }}x`}, map[string]any{"name": "HOME"}},
		{"double quotes", []string{`echo "[{{ msg }}]"`, `test -n "{{ msg }}" && echo yes`}, map[string]any{"msg": "hello  world"}},
		{"single quotes", []string{`echo '[{{ msg }}]'`}, map[string]any{"msg": "hello  world"}},
		{"here-document", []string{"cat <<EOF", "user={{ msg }} home=$HOME", "EOF"}, map[string]any{"msg": "a  b"}},
		{"quoted here-document", []string{"cat <<'EOF'", "user={{ msg }} home=$HOME `x` \\", "EOF"}, map[string]any{"msg": "a  b"}},
		{"arithmetic", []string{"echo $(( {{ n }} + 1 )) $(( {{ i }} * 2 ))"}, map[string]any{"n": "41", "i": 21}},
		{"command name", []string{"{{ cmd }} hi"}, map[string]any{"cmd": "echo"}},
		{"case", []string{"case {{ msg }} in hello*) echo matched;; esac"}, map[string]any{"msg": "hello"}},
	}
	params := `{"pkgs": {"type": "String", "default": ""}, "files": {"type": "String", "default": ""},
	  "user": {"type": "String", "default": ""}, "none": {"type": "String", "default": ""},
	  "name": {"type": "String", "default": ""}, "msg": {"type": "String", "default": ""},
	  "n": {"type": "String", "default": "0"}, "i": {"type": "Integer", "default": 0},
	  "cmd": {"type": "String", "default": "true"}}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Render("ssm", shellDocument(t, tt.commands, params), tt.values)
			require.NoError(t, err)
			step := plan.Steps[0]
			ssm := substituteRaw(strings.Join(tt.commands, "\n"), func(name string) string {
				text, err := valueText(tt.values[name])
				require.NoError(t, err)
				return text
			})
			env := append([]EnvVar{{Name: "HOME", Value: home}}, step.Env...)
			want, _ := runSh(t, "sh", ssm, env[:1])
			got, _ := runSh(t, "sh", step.Script, env)
			require.Equal(t, want, got, "SSM's script:\n%s\nStead's script:\n%s", ssm, step.Script)
		})
	}
}

func TestRenderShellText(t *testing.T) {
	tilde := `"$(case ${SSM_v} in *[!A-Za-z0-9._/-]*|-*) printf '~%s' "${SSM_v}";; *) eval "printf '%s' ~${SSM_v}";; esac)"`
	dollar := `$(case ${SSM_v} in ''|[!A-Za-z_]*|*[!A-Za-z0-9_]*) printf '$%s' "${SSM_v}";; *) eval "printf '%s' \"\${${SSM_v}-}\"";; esac)`
	tests := []struct{ template, want string }{
		{`echo {{ v }}`, `echo ${SSM_v}`},
		{`echo "a{{v}}b"`, `echo "a${SSM_v}b"`},
		{`echo 'a{{v}}b'`, `echo 'a'"${SSM_v}"'b'`},
		{`echo \{{v}}`, `echo \\${SSM_v}`},
		{`echo "\{{v}}"`, `echo "\\${SSM_v}"`},
		{"echo \"`echo {{v}}`\"", "echo \"`echo ${SSM_v}`\""},
		{"echo `echo {{v}}`", "echo `echo ${SSM_v}`"},
		{`echo "$(echo {{v}})"`, `echo "$(echo ${SSM_v})"`},
		{`echo $((1<<2)) {{v}}`, `echo $((1<<2)) ${SSM_v}`},
		{"echo a#{{v}}", `echo a#${SSM_v}`},
		{"# don't {{v}}\necho {{v}}", "# don't ${SSM_v}\necho ${SSM_v}"},
		{"cat <<EOF; echo {{v}}\n'{{v}}'\nEOF\necho '{{v}}'", "cat <<EOF; echo ${SSM_v}\n'${SSM_v}'\nEOF\necho ''\"${SSM_v}\"''"},
		{"echo {{.Names}} {{ssm:x", "echo {{.Names}} {{ssm:x"},
		// A command name stays one word: a value never becomes a command line.
		{"{{v}} -x; a=1 {{v}} && {{v}}|(x {{v}})", `"${SSM_v}" -x; a=1 "${SSM_v}" && "${SSM_v}"|(x ${SSM_v})`},
		{"if {{v}}; then for x in {{v}}; do {{v}} $x; done; fi", `if "${SSM_v}"; then for x in ${SSM_v}; do "${SSM_v}" $x; done; fi`},
		{"case {{v}} in a) {{v}};; esac", `case ${SSM_v} in a) "${SSM_v}";; esac`},
		{"/opt/{{v}}/bin/x {{v}}; x=$({{v}} a)", `/opt/"${SSM_v}"/bin/x ${SSM_v}; x=$("${SSM_v}" a)`},
		// ~ and $ before a placeholder.
		{"mkdir ~{{v}}/.ssh ~{{v}}", "mkdir " + tilde + "/.ssh " + tilde},
		{"echo ~x{{v}} \"~{{v}}\"", `echo ~x${SSM_v} "~${SSM_v}"`},
		{"echo ${{v}} \"${{v}}\" $$ $${{v}}", "echo " + dollar + ` "` + dollar + `" $$ $$${SSM_v}`},
		{"x=`echo ${{v}}`", "x=`echo " + strings.ReplaceAll(dollar, `\`, `\\`) + "`"},
		// A quoted here-document holding a placeholder is written unquoted, its text escaped.
		{"cat <<'EOF' >f\n{{v}} $x `y` \\\nEOF\ncat <<'EOF'\n$x\nEOF", "cat <<EOF >f\n${SSM_v} \\$x \\`y\\` \\\\\nEOF\ncat <<'EOF'\n$x\nEOF"},
		{"cat <<-\"END\"\n\t{{v}}\n\tEND", "cat <<-END\n\t${SSM_v}\n\tEND"},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			var tmpl scriptTemplate
			tmpl.addTemplate(tt.template)
			got, refs, _, err := renderShell(&tmpl, nil, func(string) error { return nil })
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
		// A single-quoted here-string holding a placeholder is written double-quoted, its text escaped.
		{"$s = @'\n{{v}} `x $y \"q\"\n'@\n'{{v}}'", "$s = @\"\n${env:SSM_v} ``x `$y `\"q`\"\n\"@\n\"${env:SSM_v}\""},
		{"$s = @'\nno placeholder $y\n'@", "$s = @'\nno placeholder $y\n'@"},
		// $ before a placeholder reads the variable the value names, as SSM's text does.
		{`Write-Host ${{v}} "a ${{v}}"`, `Write-Host $(Get-Variable -Name ${env:SSM_v} -ValueOnly -ErrorAction SilentlyContinue) "a $(Get-Variable -Name ${env:SSM_v} -ValueOnly -ErrorAction SilentlyContinue)"`},
		{`Write-Host $env:{{v}} $($x)`, `Write-Host $([Environment]::GetEnvironmentVariable(${env:SSM_v})) $($x)`},
		// A scope, a drive or braces before a placeholder never leave a '$' glued to
		// the reference, which PowerShell would read as another variable or refuse.
		{`Write-Host $script:{{v}} "$global:{{v}}"`, `Write-Host $(Get-Variable -Name ${env:SSM_v} -Scope Script -ValueOnly -ErrorAction SilentlyContinue) "$(Get-Variable -Name ${env:SSM_v} -Scope Global -ValueOnly -ErrorAction SilentlyContinue)"`},
		{`Write-Host ${env:{{v}}} "${{{v}}}" $variable:{{v}}`, `Write-Host $([Environment]::GetEnvironmentVariable(${env:SSM_v})) "$(Get-Variable -Name ${env:SSM_v} -ValueOnly -ErrorAction SilentlyContinue)" $(Get-Variable -Name ${env:SSM_v} -ValueOnly -ErrorAction SilentlyContinue)`},
		{`Write-Host ${env:x{{v}}}`, `Write-Host ${env:x${env:SSM_v}}`},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			var tmpl scriptTemplate
			tmpl.addTemplate(tt.template)
			got, _, _ := renderPowerShell(&tmpl, nil)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestPowerShellDollarNeverPrecedesAReference is the tokeniser-level check of
// the $ before a placeholder: in code, in double-quoted strings and here-strings
// (where $ expands), no reference to a parameter is ever preceded by a '$' or a
// scope that PowerShell would take as the start of another variable name.
func TestPowerShellDollarNeverPrecedesAReference(t *testing.T) {
	glued := regexp.MustCompile(`(?i)\$(env:|global:|script:|local:|variable:)?\{?\$\{env:SSM_`)
	for _, prefix := range []string{"$", "$env:", "$global:", "$script:", "$local:", "$variable:", "${", "${env:", "$$"} {
		suffix := ""
		if strings.HasSuffix(prefix, "{") || strings.HasPrefix(prefix, "${") {
			suffix = "}"
		}
		ref := prefix + "{{v}}" + suffix
		for _, template := range []string{
			"Write-Host " + ref,
			`Write-Host "a ` + ref + ` b"`,
			"$s = @\"\n" + ref + "\n\"@",
			`Write-Host "$(Get-Item ` + ref + `)"`,
		} {
			var tmpl scriptTemplate
			tmpl.addTemplate(template)
			got, refs, _ := renderPowerShell(&tmpl, nil)
			require.NotRegexp(t, glued, got, "%s", template)
			require.Equal(t, map[string]bool{"v": true}, refs, "%s", template)
			require.Equal(t, strings.Count(got, `"`)%2, 0, "quotes balance: %s", got)
		}
	}
}
