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
