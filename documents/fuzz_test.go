package documents

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSeeds are the shapes real input takes: the documents of testdata, the built-ins and,
// when it is beside the repository, the corpus of public documents.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	files, err := filepath.Glob("testdata/*.[jy]*")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	corpus, _ := readCorpus() // seeds only: absent, the fuzzers still run
	for _, name := range sortedKeys(corpus) {
		seeds = append(seeds, corpus[name])
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
