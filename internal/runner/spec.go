package runner

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var (
	runIDPattern   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Normalized checks what every runner needs of a spec, and fills in the
// defaults: a run id that is a plain file name of at most maxRunID bytes
// (each runner's bound keeps run directories inside its node's path
// limits), a script and environment without NUL bytes, variable names a
// shell and PowerShell both take, a working directory on one line, and
// nothing negative. It returns every problem; a runner adds its own.
func (s Spec) Normalized(maxRunID int) (Spec, []error) {
	var errs []error
	switch {
	case !runIDPattern.MatchString(s.RunID) || strings.Trim(s.RunID, ".") == "":
		errs = append(errs, fmt.Errorf("run id %q must be letters, digits, '.', '_' or '-', and not only dots", s.RunID))
	case len(s.RunID) > maxRunID:
		errs = append(errs, fmt.Errorf("run id is %d bytes long, more than %d", len(s.RunID), maxRunID))
	}
	if strings.ContainsRune(s.Script, 0) {
		errs = append(errs, errors.New("script contains a NUL byte"))
	}
	for _, e := range s.Env {
		if !envNamePattern.MatchString(e.Name) {
			errs = append(errs, fmt.Errorf("environment variable name %q is not valid", e.Name))
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
	return s, errs
}
