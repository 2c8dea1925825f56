package documents

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// registry is a Resolver over in-memory documents (version 1 each), with the built-ins.
func registry(docs map[string]string) Resolver {
	return func(name, version string) (Source, error) {
		if content, ok := docs[name]; ok {
			return Source{Name: name, Version: "1", Hash: Hash([]byte(content)), Content: []byte(content)}, nil
		}
		return ResolveBuiltin(name, version)
	}
}

func runDocumentStep(path, params string) string {
	return fmt.Sprintf(`{"schemaVersion": "2.2", "parameters": {"msg": {"type": "String", "default": "hi"}, "cmds": {"type": "StringList", "default": ["true"]}},
  "mainSteps": [{"action": "aws:runDocument", "name": "nested", "onFailure": "continue",
    "inputs": {"documentType": "SSMDocument", "documentPath": %q, "documentParameters": %q}}]}`, path, params)
}

const childDoc = `{"schemaVersion": "2.2", "parameters": {"message": {"type": "String"}, "commands": {"type": "StringList", "default": ["true"]}},
  "mainSteps": [{"action": "aws:runShellScript", "name": "say", "inputs": {"runCommand": ["echo {{ message }}", "{{ commands }}"]}}]}`

func TestRunDocumentExpansion(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		docs  map[string]string
		check func(t *testing.T, p *Plan, err error)
	}{
		{"data stays data", runDocumentStep("child", `{"message": "{{ msg }}; touch /tmp/x"}`), map[string]string{"child": childDoc}, func(t *testing.T, p *Plan, err error) {
			require.NoError(t, err)
			require.Len(t, p.Steps, 1)
			s := p.Steps[0]
			require.Equal(t, "nested.say", s.Name)
			require.Equal(t, "echo ${SSM_message}\ntrue", s.Script)
			require.Equal(t, []EnvVar{{Name: "SSM_message", Value: "hi; touch /tmp/x"}}, s.Env)
			require.Equal(t, OnFailureContinue, s.OnFailure)
			require.Equal(t, "child:1 "+Hash([]byte(childDoc)), s.Document)
		}},
		{"code from code", runDocumentStep("child", `{"message": "m", "commands": "{{ cmds }}"}`), map[string]string{"child": childDoc}, func(t *testing.T, p *Plan, err error) {
			require.NoError(t, err)
			require.Equal(t, "echo ${SSM_message}\ntrue", p.Steps[0].Script)
		}},
		{"data never becomes code", runDocumentStep("child", `{"message": "m", "commands": ["echo {{ msg }}"]}`), map[string]string{"child": childDoc}, func(t *testing.T, p *Plan, err error) {
			require.ErrorContains(t, err, "documentParameters: commands: {{ msg }} would become code in document child")
		}},
		{"built-in by alias", runDocumentStep("AWS-RunShellScript", `{"commands": ["uptime"]}`), nil, func(t *testing.T, p *Plan, err error) {
			require.NoError(t, err)
			require.Equal(t, "nested.runShellScript", p.Steps[0].Name)
			require.Equal(t, "uptime", p.Steps[0].Script)
		}},
		{"child parameters checked", runDocumentStep("child", `{"mesage": "x"}`), map[string]string{"child": childDoc}, func(t *testing.T, p *Plan, err error) {
			require.ErrorContains(t, err, "parameters of document child: parameter mesage: unknown parameter; did you mean message?")
		}},
		{"missing document fails when reached", runDocumentStep("ghost", `{}`), nil, func(t *testing.T, p *Plan, err error) {
			require.NoError(t, err)
			require.Equal(t, "document ghost cannot run: document ghost: not found", p.Steps[0].Refused)
		}},
		{"cycle", runDocumentStep("a", `{}`), map[string]string{"a": runDocumentStep("b", `{}`), "b": runDocumentStep("a", `{}`)}, func(t *testing.T, p *Plan, err error) {
			require.ErrorContains(t, err, "aws:runDocument cycle: top -> a -> b -> a")
		}},
		{"self", runDocumentStep("top", `{}`), map[string]string{"top": runDocumentStep("top", `{}`)}, func(t *testing.T, p *Plan, err error) {
			require.ErrorContains(t, err, "aws:runDocument cycle: top -> top")
		}},
		{"three deep", runDocumentStep("d1", `{}`), map[string]string{"d1": runDocumentStep("d2", `{}`), "d2": runDocumentStep("d3", `{}`), "d3": runDocumentStep("AWS-RunShellScript", `{"commands": ["id"]}`)}, func(t *testing.T, p *Plan, err error) {
			require.ErrorContains(t, err, "deeper than 3 documents: top -> d1 -> d2 -> d3 -> Stead-RunShellScript")
		}},
		{"three deep allowed", runDocumentStep("d1", `{}`), map[string]string{"d1": runDocumentStep("d2", `{}`), "d2": runDocumentStep("AWS-RunShellScript", `{"commands": ["id"]}`)}, func(t *testing.T, p *Plan, err error) {
			require.NoError(t, err)
			require.Equal(t, "nested.nested.nested.runShellScript", p.Steps[0].Name)
		}},
		{"local path expanded when reached", strings.Replace(runDocumentStep("bootstrap", `{"message": "{{ msg }}!", "commands": "{{ cmds }}"}`), "SSMDocument", "LocalPath", 1), nil, func(t *testing.T, p *Plan, err error) {
			require.NoError(t, err)
			require.Len(t, p.Steps, 1)
			s := p.Steps[0]
			require.Empty(t, s.Refused)
			require.Equal(t, "nested", s.Name)
			require.Equal(t, OnFailureContinue, s.OnFailure)
			require.Equal(t, &LocalDocument{
				Path:           "bootstrap",
				Parameters:     `{"commands":["true"],"message":"hi!"}`,
				DataParameters: map[string]string{"message": "msg"},
				Chain:          []string{"top"},
			}, s.LocalDocument)
		}},
		{"local path within the nesting limit", runDocumentStep("d1", `{}`), map[string]string{"d1": runDocumentStep("d2", `{}`), "d2": strings.Replace(runDocumentStep("x.json", `{}`), "SSMDocument", "LocalPath", 1)}, func(t *testing.T, p *Plan, err error) {
			require.NoError(t, err)
			require.Equal(t, "nested.nested.nested", p.Steps[0].Name)
			require.Equal(t, []string{"top", "d1", "d2"}, p.Steps[0].LocalDocument.Chain)
		}},
		{"local path beyond the nesting limit", runDocumentStep("d1", `{}`), map[string]string{"d1": runDocumentStep("d2", `{}`), "d2": runDocumentStep("d3", `{}`), "d3": strings.Replace(runDocumentStep("x.json", `{}`), "SSMDocument", "LocalPath", 1)}, func(t *testing.T, p *Plan, err error) {
			require.ErrorContains(t, err, "deeper than 3 documents: top -> d1 -> d2 -> d3 -> LocalPath:x.json")
		}},
		{"bad version", runDocumentStep("child:latest", `{}`), map[string]string{"child": childDoc}, func(t *testing.T, p *Plan, err error) {
			require.ErrorContains(t, err, `version "latest": want a version number, $LATEST or $DEFAULT`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := RenderWith("top", []byte(tt.doc), nil, registry(tt.docs))
			tt.check(t, p, err)
		})
	}
}

func downloadDoc(sourceType, info, dest string) string {
	return fmt.Sprintf(`{"schemaVersion": "2.2", "parameters": {"file": {"type": "String", "default": "agent.tgz"}},
  "mainSteps": [{"action": "aws:downloadContent", "name": "fetch",
    "inputs": {"sourceType": %q, "sourceInfo": %q, "destinationPath": %q}}]}`, sourceType, info, dest)
}

func TestDownloadContent(t *testing.T) {
	sum := strings.Repeat("0f", 32)
	tests := []struct {
		name, doc string
		want      *Download
		refused   string
		err       string
	}{
		{"https", downloadDoc("HTTP", `{"url": "https://h/x/{{ file }}", "sha256": "`+strings.ToUpper(sum)+`"}`, "/opt/"), &Download{SourceType: "HTTP", URL: "https://h/x/agent.tgz", SHA256: sum, DestinationPath: "/opt/agent.tgz"}, "", ""},
		{"http needs consent", downloadDoc("HTTP", `{"url": "http://h/x"}`, "x"), nil, "", "is not HTTPS; set allowInsecureDownload to true"},
		{"http with consent", downloadDoc("HTTP", `{"url": "http://h/x", "allowInsecureDownload": true}`, "dir/y"), &Download{SourceType: "HTTP", URL: "http://h/x", DestinationPath: "dir/y"}, "", ""},
		{"worker file", downloadDoc("Worker", `{"path": "pkgs/{{ file }}"}`, ""), &Download{SourceType: "Worker", Path: "pkgs/agent.tgz", DestinationPath: "agent.tgz"}, "", ""},
		{"worker absolute path", downloadDoc("Worker", `{"path": "/etc/shadow"}`, "x"), nil, "", "want a path relative to the worker's files directory"},
		{"github at run time", downloadDoc("GitHub", `{"owner": "o"}`, "x"), nil, "sourceType GitHub is not supported", ""},
		{"s3 at run time", downloadDoc("S3", `{"path": "https://s3/x"}`, "x"), nil, "sourceType S3 is not supported", ""},
		{"typo", downloadDoc("HTTP", `{"url": "https://h/x", "sha265": "x"}`, "x"), nil, "", "sourceInfo: sha265: unknown key; did you mean sha256?"},
		{"bad digest", downloadDoc("HTTP", `{"url": "https://h/x", "sha256": "abc"}`, "x"), nil, "", "sourceInfo: sha256: must be 64 hexadecimal digits"},
		{"unknown source", downloadDoc("Http", `{}`, "x"), nil, "", "sourceType: Http: unknown source type; did you mean HTTP?"},
		{"not json", downloadDoc("HTTP", `{"url": `, "x"), nil, "", "sourceInfo: not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Render("d", []byte(tt.doc), nil)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, p.Steps[0].Download)
			require.Contains(t, p.Steps[0].Refused, tt.refused)
		})
	}
}

func TestValidNameAndRef(t *testing.T) {
	for _, tt := range []struct{ name, err string }{
		{"my-doc", ""},
		{"AWS-RunShellScript", "is built in (Stead-RunShellScript)"},
		{"Stead-Mine", "prefix Stead- is reserved"},
		{"aws-mine", "prefix AWS- is reserved"},
		{"ab", "want 3-128"},
		{"a:b:c", "want 3-128"},
	} {
		err := ValidName(tt.name)
		if tt.err == "" {
			require.NoError(t, err, tt.name)
		} else {
			require.ErrorContains(t, err, tt.err, tt.name)
		}
	}
	for _, tt := range []struct{ ref, name, version, err string }{
		{"doc", "doc", VersionDefault, ""},
		{"doc:3", "doc", "3", ""},
		{"doc:$LATEST", "doc", VersionLatest, ""},
		{"doc:0", "", "", "want a version number"},
		{":3", "", "", "name is empty"},
	} {
		n, v, err := ParseRef(tt.ref)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err, tt.ref)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, [2]string{tt.name, tt.version}, [2]string{n, v})
	}
}

// localStep renders a one-step document whose step runs the document file path with
// params, and returns that plan step as the target would reach it.
func localStep(t *testing.T, path, params string) PlanStep {
	t.Helper()
	doc := strings.Replace(runDocumentStep(path, params), "SSMDocument", "LocalPath", 1)
	p, err := Render("top", []byte(doc), nil)
	require.NoError(t, err)
	require.Len(t, p.Steps, 1)
	require.NotNil(t, p.Steps[0].LocalDocument)
	return p.Steps[0]
}

func TestRenderLocal(t *testing.T) {
	t.Run("data stays data", func(t *testing.T) {
		ps := localStep(t, "child.json", `{"message": "{{ msg }}; touch /tmp/x"}`)
		steps, err := RenderLocal(ps, []byte(childDoc), ResolveBuiltin)
		require.NoError(t, err)
		require.Len(t, steps, 1)
		s := steps[0]
		require.Equal(t, "nested.say", s.Name)
		require.Equal(t, "echo ${SSM_message}\ntrue", s.Script)
		require.Equal(t, []EnvVar{{Name: "SSM_message", Value: "hi; touch /tmp/x"}}, s.Env)
		require.Equal(t, OnFailureContinue, s.OnFailure)
		require.Equal(t, "LocalPath:child.json "+Hash([]byte(childDoc)), s.Document)
	})
	t.Run("code from code", func(t *testing.T) {
		ps := localStep(t, "child.json", `{"message": "m", "commands": "{{ cmds }}"}`)
		steps, err := RenderLocal(ps, []byte(childDoc), ResolveBuiltin)
		require.NoError(t, err)
		require.Equal(t, "echo ${SSM_message}\ntrue", steps[0].Script)
	})
	t.Run("data never becomes code", func(t *testing.T) {
		ps := localStep(t, "child.json", `{"message": "m", "commands": ["echo {{ msg }}"]}`)
		_, err := RenderLocal(ps, []byte(childDoc), ResolveBuiltin)
		require.EqualError(t, err, "documentParameters: commands: {{ msg }} would become code in document child.json; pass it to a parameter the document uses as data")
	})
	t.Run("invalid file", func(t *testing.T) {
		ps := localStep(t, "child.json", `{}`)
		_, err := RenderLocal(ps, []byte("{\"schemaVersion\": \"2.2\",\n  \"mainSteps\": [}"), ResolveBuiltin)
		require.ErrorContains(t, err, "parse document child.json: ")
		require.ErrorContains(t, err, "line 2")
	})
	t.Run("unsupported plugin", func(t *testing.T) {
		ps := localStep(t, "child.json", `{}`)
		_, err := RenderLocal(ps, []byte(`{"schemaVersion": "2.2", "mainSteps": [{"action": "aws:softwareInventory", "name": "inv", "inputs": {}}]}`), ResolveBuiltin)
		require.EqualError(t, err, "validate document child.json: step inv: plugin aws:softwareInventory is not supported")
	})
	t.Run("unknown parameter", func(t *testing.T) {
		ps := localStep(t, "child.json", `{"mesage": "x"}`)
		_, err := RenderLocal(ps, []byte(childDoc), ResolveBuiltin)
		require.ErrorContains(t, err, "parameters of document child.json: parameter mesage: unknown parameter; did you mean message?")
	})
	t.Run("nested local path", func(t *testing.T) {
		ps := localStep(t, "a.json", `{}`)
		inner := strings.Replace(runDocumentStep("b.json", `{}`), "SSMDocument", "LocalPath", 1)
		steps, err := RenderLocal(ps, []byte(inner), ResolveBuiltin)
		require.NoError(t, err)
		require.Equal(t, "nested.nested", steps[0].Name)
		require.Equal(t, []string{"top", "LocalPath:a.json"}, steps[0].LocalDocument.Chain)
		deep := steps[0]
		deep.LocalDocument.Chain = append(deep.LocalDocument.Chain, "d", "e")
		_, err = RenderLocal(deep, []byte(childDoc), ResolveBuiltin)
		require.EqualError(t, err, "aws:runDocument nests LocalPath:b.json deeper than 3 documents: top -> LocalPath:a.json -> d -> e -> LocalPath:b.json")
	})
	t.Run("cycle", func(t *testing.T) {
		ps := localStep(t, "a.json", `{}`)
		inner := strings.Replace(runDocumentStep("a.json", `{}`), "SSMDocument", "LocalPath", 1)
		steps, err := RenderLocal(ps, []byte(inner), ResolveBuiltin)
		require.NoError(t, err)
		_, err = RenderLocal(steps[0], []byte(inner), ResolveBuiltin)
		require.EqualError(t, err, "aws:runDocument cycle: top -> LocalPath:a.json -> LocalPath:a.json")
	})
	t.Run("steps of a finally step are finally steps", func(t *testing.T) {
		ps := localStep(t, "child.json", `{"message": "m"}`)
		ps.FinallyStep = true
		steps, err := RenderLocal(ps, []byte(childDoc), ResolveBuiltin)
		require.NoError(t, err)
		require.True(t, steps[0].FinallyStep)
	})
	t.Run("built-in inside", func(t *testing.T) {
		ps := localStep(t, "a.json", `{}`)
		steps, err := RenderLocal(ps, []byte(runDocumentStep("AWS-RunShellScript", `{"commands": ["uptime"]}`)), ResolveBuiltin)
		require.NoError(t, err)
		require.Equal(t, "nested.nested.runShellScript", steps[0].Name)
		require.Equal(t, "uptime", steps[0].Script)
	})
}
