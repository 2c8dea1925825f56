package posix

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/transport"
)

// fetchProgram prints the size of one stream file of a run, then its
// first @LIMIT@ bytes. Exit status 3 means the run or the file is gone.
const fetchProgram = `# Stead: read @STREAM@ of run @RUNID@.
f="$HOME/.stead/runs/@RUNID@/@STREAM@"
[ -f "$f" ] || exit 3
printf '%s\n' "$(($(wc -c <"$f")))"
head -c @LIMIT@ "$f"
`

// errFetchMissing is the exit status of fetchProgram for a missing file.
const errFetchMissing = 3

// Fetch implements runner.Runner with one session that prints the
// stream's size and its first limit bytes: it needs nothing on the node but
// sh, and the copy streams, never holding the output in memory.
func (Runner) Fetch(ctx context.Context, conn transport.Communicator, runID string, stream runner.Stream, limit int64, w io.Writer) (written, size int64, err error) {
	if _, err := normalize(runner.Spec{RunID: runID}); err != nil {
		return 0, 0, fmt.Errorf("fetch %s of run %s: %w", stream, runID, err)
	}
	if stream != runner.Stdout && stream != runner.Stderr {
		return 0, 0, fmt.Errorf("fetch %s of run %s: want stream stdout or stderr", stream, runID)
	}
	if limit < 0 {
		return 0, 0, fmt.Errorf("fetch %s of run %s: negative limit %d", stream, runID, limit)
	}
	program := strings.NewReplacer("@RUNID@", runID, "@STREAM@", string(stream), "@LIMIT@", strconv.FormatInt(limit, 10)).Replace(fetchProgram)
	hw := &runner.HeaderWriter{W: w}
	var stderr bytes.Buffer
	code, err := conn.Run(ctx, "sh -c "+shellQuote(program), nil, hw, &stderr)
	if err != nil {
		return hw.N, 0, fmt.Errorf("fetch %s of run %s: %w", stream, runID, err)
	}
	if hw.Err != nil {
		return hw.N, 0, fmt.Errorf("fetch %s of run %s: %w", stream, runID, hw.Err)
	}
	if code == errFetchMissing {
		return 0, 0, fmt.Errorf("fetch %s of run %s: the run directory on the node has no %s file", stream, runID, stream)
	}
	if code != 0 || !hw.Done {
		return hw.N, 0, fmt.Errorf("fetch %s of run %s: exit status %d: %s", stream, runID, code, runner.FirstLine(stderr.Bytes()))
	}
	size, perr := strconv.ParseInt(string(hw.Header), 10, 64)
	if perr != nil {
		return hw.N, 0, fmt.Errorf("fetch %s of run %s: read size %q: %w", stream, runID, hw.Header, perr)
	}
	return hw.N, size, nil
}
