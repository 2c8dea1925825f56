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
	hw := &headerWriter{w: w}
	var stderr bytes.Buffer
	code, err := conn.Run(ctx, "sh -c "+shellQuote(program), nil, hw, &stderr)
	if err != nil {
		return hw.n, 0, fmt.Errorf("fetch %s of run %s: %w", stream, runID, err)
	}
	if hw.err != nil {
		return hw.n, 0, fmt.Errorf("fetch %s of run %s: %w", stream, runID, hw.err)
	}
	if code == errFetchMissing {
		return 0, 0, fmt.Errorf("fetch %s of run %s: the run directory on the node has no %s file", stream, runID, stream)
	}
	if code != 0 || !hw.done {
		return hw.n, 0, fmt.Errorf("fetch %s of run %s: exit status %d: %s", stream, runID, code, firstLine(stderr.Bytes()))
	}
	size, perr := strconv.ParseInt(string(hw.header), 10, 64)
	if perr != nil {
		return hw.n, 0, fmt.Errorf("fetch %s of run %s: read size %q: %w", stream, runID, hw.header, perr)
	}
	return hw.n, size, nil
}

// headerWriter takes the first line of what it is given as a header and
// passes the rest to w, counting it. After a write error on w it discards.
type headerWriter struct {
	w      io.Writer
	header []byte
	done   bool
	n      int64
	err    error
}

// maxHeader bounds the header line, a decimal size.
const maxHeader = 32

func (h *headerWriter) Write(p []byte) (int, error) {
	total := len(p)
	if !h.done {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			h.header = append(h.header, p...)
			if len(h.header) > maxHeader {
				h.err = fmt.Errorf("unexpected reply %q", firstLine(h.header))
				h.done = true
			}
			return total, nil
		}
		h.header = append(h.header, p[:i]...)
		h.done = true
		p = p[i+1:]
	}
	if h.err != nil || len(p) == 0 {
		return total, nil
	}
	n, err := h.w.Write(p)
	h.n += int64(n)
	if err != nil {
		h.err = fmt.Errorf("write output: %w", err)
	}
	return total, nil
}
