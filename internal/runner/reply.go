package runner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// This file is the reply format the runners' node programs share: a
// STEAD1 header line, the run directory, then the kept output. Each runner
// writes the program in its node's shell; the worker reads every reply the
// same way.

// ReplySlack is what a run program's reply may hold beyond the kept output: the
// header line and the run directory's path.
const ReplySlack = 8 << 10

// Capped keeps the first Max bytes written to it and drops the rest, reporting every
// write as complete so the session is not broken off.
type Capped struct {
	bytes.Buffer
	Max int
}

func (c *Capped) Write(p []byte) (int, error) {
	if room := c.Max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Beat calls heartbeat every interval until the returned func is
// called; that func returns once no call is in progress.
func Beat(heartbeat func(), interval time.Duration) func() {
	if heartbeat == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				heartbeat()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// ParseReply reads a run program's report: a header line, the run
// directory, then the kept stdout; stderr holds the kept stderr.
func ParseReply(stdout, stderr []byte, spec Spec) (Result, string, error) {
	header, rest, _ := bytes.Cut(stdout, []byte("\n"))
	fields := strings.Fields(string(header))
	if len(fields) == 2 && fields[0] == "STEAD1" && fields[1] == "error" {
		return Result{}, "", fmt.Errorf("prepare the run on the node: %s", FirstLine(rest))
	}
	if len(fields) != 6 || fields[0] != "STEAD1" {
		return Result{}, "", fmt.Errorf("read the node's reply: unexpected output %q, stderr %q", FirstLine(stdout), FirstLine(stderr))
	}
	dir, out, _ := bytes.Cut(rest, []byte("\n"))
	state := fields[1]
	code, err1 := strconv.Atoi(fields[2])
	outBytes, err2 := strconv.ParseInt(fields[4], 10, 64)
	errBytes, err3 := strconv.ParseInt(fields[5], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Result{}, "", fmt.Errorf("read the node's reply %q: %w", header, err)
	}
	res := Result{
		ExitCode:    code,
		TimedOut:    fields[3] == "1",
		StdoutBytes: outBytes,
		StderrBytes: errBytes,
		Resumed:     state != "launched",
		RunDir:      string(dir),
	}
	res.Stdout, res.StdoutTruncated = Keep(out, spec.StdoutLimit, outBytes)
	res.Stderr, res.StderrTruncated = Keep(stderr, spec.StderrLimit, errBytes)
	return res, state, nil
}

// Keep returns at most limit bytes of b, the start of a stream of total
// bytes, without splitting a UTF-8 character, and whether it is shorter
// than the stream.
func Keep(b []byte, limit int, total int64) (string, bool) {
	if len(b) > limit {
		b = b[:limit]
	}
	if int64(len(b)) < total {
		b = trimPartialRune(b)
	}
	return string(b), int64(len(b)) < total
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// FirstLine returns the first line of b, shortened for an error message.
func FirstLine(b []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	const maxLen = 300
	if len(line) > maxLen {
		line = line[:maxLen]
	}
	return string(line)
}

// HeaderWriter takes the first line of what it is given as a header and
// passes the rest to w, counting it. After a write error on w it discards.
type HeaderWriter struct {
	// W receives everything after the header line.
	W io.Writer
	// Header is the first line, without its newline.
	Header []byte
	// Done is set once the header line is complete.
	Done bool
	// N counts the bytes written to W.
	N int64
	// Err is the first error, of the header or of W.
	Err error
}

// maxHeader bounds the header line, a decimal size.
const maxHeader = 32

func (h *HeaderWriter) Write(p []byte) (int, error) {
	total := len(p)
	if !h.Done {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			h.Header = append(h.Header, p...)
			if len(h.Header) > maxHeader {
				h.Err = fmt.Errorf("unexpected reply %q", FirstLine(h.Header))
				h.Done = true
			}
			return total, nil
		}
		h.Header = append(h.Header, p[:i]...)
		h.Done = true
		p = p[i+1:]
	}
	if h.Err != nil || len(p) == 0 {
		return total, nil
	}
	n, err := h.W.Write(p)
	h.N += int64(n)
	if err != nil {
		h.Err = fmt.Errorf("write output: %w", err)
	}
	return total, nil
}
