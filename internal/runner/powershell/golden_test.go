package powershell

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stead-io/stead/internal/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from what the runner sends; run go test -update and review the diff\n--- got\n%s", path, got)
	}
}

// TestWireGolden pins the exact text a Windows node receives: the command
// line (decoded), each program, and the parameters of a run.
func TestWireGolden(t *testing.T) {
	line := CommandLine()
	encoded := strings.TrimPrefix(line, "powershell.exe "+PowerShellArgs+" -EncodedCommand ")
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(raw)%2 != 0 {
		t.Fatalf("the command line's -EncodedCommand is not base64 UTF-16: %v", err)
	}
	units := make([]uint16, len(raw)/2)
	for i := range units {
		units[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	if len(line) > 8191 {
		t.Fatalf("the command line is %d characters, more than cmd.exe takes", len(line))
	}
	golden(t, "commandline.txt", "powershell.exe "+PowerShellArgs+" -EncodedCommand <base64 UTF-16LE of:>\n"+string(utf16.Decode(units))+"\n")

	for name, text := range map[string]string{"run.ps1": runProgram, "stop.ps1": stopProgram, "fetch.ps1": fetchProgram, "bootid.ps1": bootIDProgram, "reboot.ps1": rebootProgram, "read.ps1": readProgram, "write.ps1": writeProgram} {
		golden(t, name, program(text))
	}
	spec, err := normalize(runner.Spec{RunID: "exec-1.web-1.step1.1", Script: "Write-Output \"${env:SSM_name}\"", Env: []runner.EnvVar{{Name: "SSM_name", Value: "it's \"quoted\"; $(x)"}}, Timeout: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	params, err := json.MarshalIndent(RunParams(spec), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "run-params.json", string(params)+"\n")
}

// TestProgramsAreBalanced is a tokeniser-level check of every program: its
// quotes, here-strings, braces and parentheses balance, so a stray edit
// cannot leave PowerShell that does not parse.
func TestProgramsAreBalanced(t *testing.T) {
	for name, text := range map[string]string{"bootstrap": bootstrap, "run": program(runProgram), "wrapper": wrapperProgram, "stop": program(stopProgram), "fetch": program(fetchProgram), "bootid": program(bootIDProgram), "reboot": program(rebootProgram), "read": program(readProgram), "write": program(writeProgram)} {
		if err := balanced(text); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if strings.Contains(text, "@COMMON@") {
			t.Errorf("%s: the common preamble was not filled in", name)
		}
	}
}

// balanced scans PowerShell text: comments, '...' (with ”), "..." (with
// backtick escapes and ""), and checks that (), {} and [] nest.
func balanced(s string) error {
	var stack []byte
	pairs := map[byte]byte{')': '(', '}': '{', ']': '['}
	line := 1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\n':
			line++
		case '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			line++
		case '\'':
			for i++; i < len(s) && !(s[i] == '\'' && (i+1 >= len(s) || s[i+1] != '\'')); i++ {
				if s[i] == '\'' {
					i++
				}
			}
			if i >= len(s) {
				return errorf(line, "unterminated single-quoted string")
			}
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '`' {
					i++
				}
			}
			if i >= len(s) {
				return errorf(line, "unterminated double-quoted string")
			}
		case '(', '{', '[':
			stack = append(stack, c)
		case ')', '}', ']':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				return errorf(line, "unbalanced "+string(c))
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return errorf(line, "unclosed "+string(stack))
	}
	return nil
}

func errorf(line int, msg string) error { return fmt.Errorf("line %d: %s", line, msg) }
