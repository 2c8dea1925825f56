package posix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/transport"
)

// heartbeatInterval is how often Run calls heartbeat while it waits.
var heartbeatInterval = 5 * time.Second

// stopTimeout bounds the session that stops a cancelled run.
const stopTimeout = 30 * time.Second

// Run implements runner.Runner: one session sends the run program (see
// the package documentation), which collects, attaches to or launches the
// run. Cancelling ctx sends TERM to the script's process group over a
// fresh session, then KILL after the grace period.
func (Runner) Run(ctx context.Context, conn transport.Communicator, spec runner.Spec, heartbeat func()) (runner.Result, error) {
	spec, err := normalize(spec)
	if err != nil {
		return runner.Result{}, fmt.Errorf("run step %s: %w", spec.RunID, err)
	}
	env, envLines := envFile(spec.Env)
	payload := spec.WorkingDirectory + "\n" + env + spec.Script

	stopBeating := beat(heartbeat)
	// The program sends at most the limits plus a header; a node that sends more (it
	// controls its end of the session) must not make the worker hold it all.
	stdout := &capped{max: spec.StdoutLimit + replySlack}
	stderr := &capped{max: spec.StderrLimit + replySlack}
	code, err := conn.Run(ctx, runCommand(spec, envLines), strings.NewReader(payload), stdout, stderr)
	stopBeating()

	if ctx.Err() != nil {
		if stopErr := stop(conn, spec); stopErr != nil {
			return runner.Result{}, errors.Join(ctx.Err(), stopErr)
		}
		return runner.Result{}, ctx.Err()
	}
	if err != nil {
		return runner.Result{}, fmt.Errorf("run step %s: %w", spec.RunID, err)
	}
	res, state, err := parseReply(stdout.Bytes(), stderr.Bytes(), spec)
	if err != nil {
		return runner.Result{}, fmt.Errorf("run step %s: %w (exit status %d)", spec.RunID, err, code)
	}
	if state == "lost" {
		return res, fmt.Errorf("run step %s in %s: %w", spec.RunID, res.RunDir, runner.ErrInterrupted)
	}
	return res, nil
}

// replySlack is what the run program's reply may hold beyond the kept output: the
// header line and the run directory's path.
const replySlack = 8 << 10

// capped keeps the first max bytes written to it and drops the rest, reporting every
// write as complete so the session is not broken off.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// beat calls heartbeat every heartbeatInterval until the returned func is
// called; that func returns once no call is in progress.
func beat(heartbeat func()) func() {
	if heartbeat == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(heartbeatInterval)
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

// stop kills a cancelled run on the node over a fresh session, which
// outlives the cancelled context for up to stopTimeout.
func stop(conn transport.Communicator, spec runner.Spec) error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	var stderr bytes.Buffer
	code, err := conn.Run(ctx, cancelCommand(spec), nil, nil, &stderr)
	if err != nil {
		return fmt.Errorf("stop run %s: %w", spec.RunID, err)
	}
	if code != 0 {
		return fmt.Errorf("stop run %s: exit status %d: %s", spec.RunID, code, firstLine(stderr.Bytes()))
	}
	return nil
}

// parseReply reads the run program's report: a header line, the run
// directory, then the kept stdout; stderr holds the kept stderr.
func parseReply(stdout, stderr []byte, spec runner.Spec) (runner.Result, string, error) {
	header, rest, _ := bytes.Cut(stdout, []byte("\n"))
	fields := strings.Fields(string(header))
	if len(fields) == 2 && fields[0] == "STEAD1" && fields[1] == "error" {
		return runner.Result{}, "", fmt.Errorf("prepare the run on the node: %s", firstLine(rest))
	}
	if len(fields) != 6 || fields[0] != "STEAD1" {
		return runner.Result{}, "", fmt.Errorf("read the node's reply: unexpected output %q, stderr %q", firstLine(stdout), firstLine(stderr))
	}
	dir, out, _ := bytes.Cut(rest, []byte("\n"))
	state := fields[1]
	code, err1 := strconv.Atoi(fields[2])
	outBytes, err2 := strconv.ParseInt(fields[4], 10, 64)
	errBytes, err3 := strconv.ParseInt(fields[5], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return runner.Result{}, "", fmt.Errorf("read the node's reply %q: %w", header, err)
	}
	res := runner.Result{
		ExitCode:    code,
		TimedOut:    fields[3] == "1",
		StdoutBytes: outBytes,
		StderrBytes: errBytes,
		Resumed:     state != "launched",
		RunDir:      string(dir),
	}
	res.Stdout, res.StdoutTruncated = keep(out, spec.StdoutLimit, outBytes)
	res.Stderr, res.StderrTruncated = keep(stderr, spec.StderrLimit, errBytes)
	return res, state, nil
}

// keep returns at most limit bytes of b, the start of a stream of total
// bytes, without splitting a UTF-8 character, and whether it is shorter
// than the stream.
func keep(b []byte, limit int, total int64) (string, bool) {
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

// firstLine returns the first line of b, shortened for an error message.
func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	const maxLen = 300
	if len(line) > maxLen {
		line = line[:maxLen]
	}
	return string(line)
}
