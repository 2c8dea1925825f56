package detached

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/stead-io/stead/internal/transport"
)

// Streams a run keeps in its directory, which Fetch can read back.
const (
	Stdout = "stdout"
	Stderr = "stderr"
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

// Fetch copies the first limit bytes of a run's full stdout or stderr
// (stream is Stdout or Stderr) from the node's run directory to w, so a
// caller can keep more of the output than Result holds. It returns the
// bytes written and the stream's full size on the node; written < size
// means the copy was cut at limit. The copy streams: it never holds the
// output in memory.
func Fetch(ctx context.Context, conn transport.Conn, runID, stream string, limit int64, w io.Writer) (written, size int64, err error) {
	if _, err := (Spec{RunID: runID}).normalize(); err != nil {
		return 0, 0, fmt.Errorf("fetch %s of run %s: %w", stream, runID, err)
	}
	if stream != Stdout && stream != Stderr {
		return 0, 0, fmt.Errorf("fetch %s of run %s: want stream stdout or stderr", stream, runID)
	}
	if limit < 0 {
		return 0, 0, fmt.Errorf("fetch %s of run %s: negative limit %d", stream, runID, limit)
	}
	program := strings.NewReplacer("@RUNID@", runID, "@STREAM@", stream, "@LIMIT@", strconv.FormatInt(limit, 10)).Replace(fetchProgram)
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
