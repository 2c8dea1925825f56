package posix

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/stead-io/stead/internal/runner"
)

var (
	runIDPattern   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// maxRunIDLength keeps run directory names well inside NAME_MAX.
const maxRunIDLength = 200

// normalize fills defaults and rejects specs that cannot run safely.
func normalize(s runner.Spec) (runner.Spec, error) {
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
		s.KillGrace = runner.DefaultKillGrace
	}
	if s.StdoutLimit == 0 {
		s.StdoutLimit = runner.DefaultStdoutLimit
	}
	if s.StderrLimit == 0 {
		s.StderrLimit = runner.DefaultStderrLimit
	}
	return s, errors.Join(errs...)
}

// envFile renders the env file: one `export NAME='value'` line per
// variable. Newlines in values are spliced in from a variable, so every
// variable stays on one line and the file can be framed by line count.
func envFile(env []runner.EnvVar) (string, int) {
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
