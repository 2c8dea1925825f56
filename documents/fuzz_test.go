package documents

import (
	"strings"
	"testing"
)

// fuzzSeeds are the compat documents and the built-ins, the shapes real input takes.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, data := range compatDocuments(f) {
		seeds = append(seeds, data)
	}
	for _, name := range BuiltinNames() {
		_, content, _ := Builtin(name)
		seeds = append(seeds, content)
	}
	return seeds
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			if doc != nil {
				t.Fatal("Parse returned a document with an error")
			}
			return
		}
		_ = doc.Validate()
	})
}

func FuzzRender(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, "commands=echo hi\nShellCommands=id\nPowerShellCommands=dir\nmessagePrecondition=x\naction=Install\nconfirmed=true")
		f.Add(s, `{"commands":["a 'b' \"c\"","$(d)"],"workingDirectory":"/tmp/{{ x }}"}`)
	}
	f.Fuzz(func(t *testing.T, data []byte, flags string) {
		params, err := ParseParameterFlags(strings.Split(flags, "\n"))
		if err != nil {
			return
		}
		plan, err := Render("fuzz", data, params)
		if err != nil {
			if plan != nil {
				t.Fatal("Render returned a plan with an error")
			}
			return
		}
		if len(plan.Steps) == 0 {
			t.Fatal("a rendered plan has no steps")
		}
		for _, s := range plan.Steps {
			if s.TimeoutSeconds < MinTimeoutSeconds || s.TimeoutSeconds > MaxTimeoutSeconds {
				t.Fatalf("step %s: timeout %d out of range", s.Name, s.TimeoutSeconds)
			}
			for _, e := range s.Env {
				if !strings.HasPrefix(e.Name, EnvPrefix) || !parameterNameRE.MatchString(strings.TrimPrefix(e.Name, EnvPrefix)) {
					t.Fatalf("step %s: bad environment variable name %q", s.Name, e.Name)
				}
				if strings.IndexByte(e.Value, 0) >= 0 {
					t.Fatalf("step %s: NUL in %s", s.Name, e.Name)
				}
			}
		}
		// Rendering is deterministic: executions must record the same plan on retry.
		again, err := Render("fuzz", data, params)
		if err != nil || len(again.Steps) != len(plan.Steps) {
			t.Fatal("rendering again differs")
		}
		for i := range plan.Steps {
			if plan.Steps[i].Script != again.Steps[i].Script {
				t.Fatal("rendering again gives another script")
			}
		}
	})
}
