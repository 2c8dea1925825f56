package posix

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stead-io/stead/internal/runner"
)

// maxRunIDLength keeps run directory names well inside NAME_MAX.
const maxRunIDLength = 200

// normalize fills defaults and rejects specs that cannot run safely.
func normalize(s runner.Spec) (runner.Spec, error) {
	s, errs := s.Normalized(maxRunIDLength)
	return s, errors.Join(errs...)
}

// envFile renders a step's environment as sh: one `export NAME='value'`
// line per variable. Newlines in values are spliced in from a variable, so
// every variable stays on one line and the text can be framed by line
// count. No variable: no text.
func envFile(env []runner.EnvVar) (string, int) {
	if len(env) == 0 {
		return "", 0
	}
	var b strings.Builder
	b.WriteString("stead_nl='\n'\n")
	for _, e := range env {
		parts := strings.Split(e.Value, "\n")
		for i, p := range parts {
			parts[i] = shellQuote(p)
		}
		fmt.Fprintf(&b, "export %s=%s\n", e.Name, strings.Join(parts, `"$stead_nl"`))
	}
	b.WriteString("unset stead_nl\n")
	return b.String(), len(env) + 3
}

// shellQuote quotes s as one sh word that stands for s exactly.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
