package detached

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Spec describes one step to run on one node.
type Spec struct {
	// RunID names the run directory; it must be unique per (execution,
	// node, step) and is what makes retries attach instead of re-running.
	// Letters, digits, '.', '_' and '-' only.
	RunID string
	// Script is the POSIX sh script to run.
	Script string
	// Env is the script's extra environment. Values are data: they reach
	// the script verbatim and are never parsed as shell code.
	Env []EnvVar
	// WorkingDirectory is where the script starts; "" means the login
	// user's home directory.
	WorkingDirectory string
	// Timeout bounds the script's run time, enforced on the node; 0 means
	// no limit. Sub-second precision is not kept: it is rounded up to
	// whole seconds.
	Timeout time.Duration
	// KillGrace is how long a timed-out or cancelled script has between
	// TERM and KILL; 0 means DefaultKillGrace.
	KillGrace time.Duration
	// StdoutLimit and StderrLimit are how many bytes of each stream Result
	// keeps; 0 means DefaultStdoutLimit and DefaultStderrLimit. The full
	// streams stay in the run directory.
	StdoutLimit, StderrLimit int
	// Sudo runs the script through `sudo -n` (root, no password prompt; it fails at once
	// if the login user may not). The wrapper, the run directory and the output files
	// stay the login user's; root only sources the env file and runs the script.
	Sudo bool
}

// EnvVar is one environment variable for the script.
type EnvVar struct {
	// Name is a shell variable name.
	Name string
	// Value is passed verbatim; it must not contain NUL.
	Value string
}

// Defaults for Spec fields left zero. The output limits match what SSM
// keeps of a command's output.
const (
	DefaultStdoutLimit = 24000
	DefaultStderrLimit = 8000
	DefaultKillGrace   = 5 * time.Second
)

var (
	runIDPattern   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// maxRunIDLength keeps run directory names well inside NAME_MAX.
const maxRunIDLength = 200

// normalize fills defaults and rejects specs that cannot run safely.
func (s Spec) normalize() (Spec, error) {
	var errs []error
	switch {
	case !runIDPattern.MatchString(s.RunID) || s.RunID == "." || s.RunID == "..":
		errs = append(errs, fmt.Errorf("run id %q must be letters, digits, '.', '_' or '-', and neither '.' nor '..'", s.RunID))
	case len(s.RunID) > maxRunIDLength:
		errs = append(errs, fmt.Errorf("run id is %d bytes long, more than %d", len(s.RunID), maxRunIDLength))
	}
	if strings.ContainsRune(s.Script, 0) {
		errs = append(errs, errors.New("script contains a NUL byte"))
	}
	for _, e := range s.Env {
		if !envNamePattern.MatchString(e.Name) {
			errs = append(errs, fmt.Errorf("environment variable name %q is not a valid shell name", e.Name))
		}
		if strings.ContainsRune(e.Value, 0) {
			errs = append(errs, fmt.Errorf("environment variable %s contains a NUL byte", e.Name))
		}
	}
	if strings.ContainsAny(s.WorkingDirectory, "\x00\n") {
		errs = append(errs, errors.New("working directory contains a NUL or newline"))
	}
	if s.Timeout < 0 || s.KillGrace < 0 || s.StdoutLimit < 0 || s.StderrLimit < 0 {
		errs = append(errs, errors.New("timeout, kill grace and output limits must not be negative"))
	}
	if s.KillGrace == 0 {
		s.KillGrace = DefaultKillGrace
	}
	if s.StdoutLimit == 0 {
		s.StdoutLimit = DefaultStdoutLimit
	}
	if s.StderrLimit == 0 {
		s.StderrLimit = DefaultStderrLimit
	}
	return s, errors.Join(errs...)
}

// envFile renders the env file: one `export NAME='value'` line per
// variable. Newlines in values are spliced in from a variable, so every
// variable stays on one line and the file can be framed by line count.
func envFile(env []EnvVar) (string, int) {
	var b strings.Builder
	b.WriteString("stead_nl=$(printf '\\n.'); stead_nl=${stead_nl%.}\n")
	for _, e := range env {
		parts := strings.Split(e.Value, "\n")
		for i, p := range parts {
			parts[i] = shellQuote(p)
		}
		fmt.Fprintf(&b, "export %s=%s\n", e.Name, strings.Join(parts, `"$stead_nl"`))
	}
	b.WriteString("unset stead_nl\n")
	return b.String(), len(env) + 2
}

// shellQuote quotes s as one sh word that stands for s exactly.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
