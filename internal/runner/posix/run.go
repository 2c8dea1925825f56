package posix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/transport"
)

// heartbeatInterval is how often Run calls heartbeat while it waits.
var heartbeatInterval = 5 * time.Second

// stopTimeout bounds the session that stops a cancelled run.
const stopTimeout = 30 * time.Second

// today names the day for the node's once-a-day prune of old runs.
var today = func() string { return time.Now().UTC().Format("20060102") }

// Run implements runner.Runner: a sequence of one step.
func (r Runner) Run(ctx context.Context, conn transport.Communicator, spec runner.Spec, heartbeat func()) (runner.Result, error) {
	res, err := r.RunSequence(ctx, conn, []runner.SequenceStep{{Spec: spec}}, heartbeat, nil)
	if len(res) == 0 {
		return runner.Result{}, err
	}
	return res[0], err
}

// RunSequence implements runner.Sequencer: one session sends the run
// program (see the package documentation), which collects, attaches to or
// launches each step in turn and reports each as it ends. Cancelling ctx
// sends TERM to the process group of every step not reported yet over a
// fresh session, then KILL after the grace period.
func (Runner) RunSequence(ctx context.Context, conn transport.Communicator, steps []runner.SequenceStep, heartbeat func(), reported func(i int)) ([]runner.Result, error) {
	norm := make([]runner.SequenceStep, len(steps))
	for i, st := range steps {
		spec, err := normalize(st.Spec)
		if err != nil {
			return nil, fmt.Errorf("run step %s: %w", st.Spec.RunID, err)
		}
		norm[i] = runner.SequenceStep{Spec: spec, Continue: st.Continue}
	}
	if len(norm) == 0 {
		return nil, nil
	}
	fr := newFrames(norm, reported)
	stderr := &runner.Capped{Max: runner.ReplySlack}
	stopBeating := runner.Beat(heartbeat, heartbeatInterval)
	code, err := conn.Run(ctx, runCommand(today()), strings.NewReader(payload(norm)), fr, stderr)
	stopBeating()

	res := fr.results
	pending := func() string { return norm[min(len(res), len(norm)-1)].Spec.RunID }
	switch {
	case ctx.Err() != nil:
		specs := make([]runner.Spec, 0, len(norm)-len(res))
		for _, st := range norm[len(res):] {
			specs = append(specs, st.Spec)
		}
		if stopErr := stop(conn, specs); stopErr != nil {
			return res, errors.Join(ctx.Err(), stopErr)
		}
		return res, ctx.Err()
	case fr.err != nil:
		return res, fmt.Errorf("run step %s: %w", pending(), fr.err)
	case len(res) > 0 && fr.lost:
		return res, fmt.Errorf("run step %s in %s: %w", norm[len(res)-1].Spec.RunID, res[len(res)-1].RunDir, runner.ErrInterrupted)
	case len(res) == len(norm):
		return res, nil
	case err != nil:
		return res, fmt.Errorf("run step %s: %w", pending(), err)
	case len(res) == 0:
		return res, fmt.Errorf("run step %s: read the node's reply: unexpected output %q, stderr %q (exit status %d)", pending(), runner.FirstLine(fr.rest()), runner.FirstLine(stderr.Bytes()), code)
	case fr.goesOn(len(res) - 1):
		return res, fmt.Errorf("run step %s: the session ended before the step was reported (exit status %d): %s", pending(), code, runner.FirstLine(stderr.Bytes()))
	}
	return res, nil
}

// stop kills cancelled runs on the node over a fresh session, which
// outlives the cancelled context for up to stopTimeout.
func stop(conn transport.Communicator, specs []runner.Spec) error {
	if len(specs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	var stderr bytes.Buffer
	code, err := conn.Run(ctx, cancelCommand(specs), nil, nil, &stderr)
	if err != nil {
		return fmt.Errorf("stop run %s: %w", specs[0].RunID, err)
	}
	if code != 0 {
		return fmt.Errorf("stop run %s: exit status %d: %s", specs[0].RunID, code, runner.FirstLine(stderr.Bytes()))
	}
	return nil
}

// frames reads a run session's stdout as it arrives: one frame per step,
// a header line "STEAD2 STATE CODE TIMEDOUT OUTBYTES ERRBYTES OUTKEPT
// ERRKEPT", the run directory on a line, then OUTKEPT bytes of stdout and
// ERRKEPT bytes of stderr; or "STEAD2 error" and a line saying why the
// node cannot run the steps.
type frames struct {
	steps    []runner.SequenceStep
	reported func(int)
	buf      []byte
	off, max int
	results  []runner.Result
	// lost is set when the last result is of a run interrupted before it
	// recorded an exit code.
	lost bool
	err  error
}

// maxFrameHeader bounds a frame's header line.
const maxFrameHeader = 200

func newFrames(steps []runner.SequenceStep, reported func(int)) *frames {
	f := &frames{steps: steps, reported: reported}
	for _, st := range steps {
		f.max += st.Spec.StdoutLimit + st.Spec.StderrLimit + runner.ReplySlack
	}
	return f
}

// Write keeps what the node sends, up to what its frames can hold, and
// parses every frame it completes; a node that sends more (it controls
// its end of the session) must not make the worker hold it all.
func (f *frames) Write(p []byte) (int, error) {
	if room := f.max - len(f.buf); room > 0 {
		f.buf = append(f.buf, p[:min(len(p), room)]...)
	}
	for f.err == nil && !f.lost && len(f.results) < len(f.steps) && f.next() {
	}
	return len(p), nil
}

// rest is what follows the last complete frame.
func (f *frames) rest() []byte { return f.buf[f.off:] }

// goesOn reports whether the node was to go on after step i's result.
func (f *frames) goesOn(i int) bool {
	r := f.results[i]
	return f.steps[i].Continue && r.ExitCode == 0 && !r.TimedOut && i+1 < len(f.steps)
}

// next parses one frame, if it is complete.
func (f *frames) next() bool {
	b := f.rest()
	header, after, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		if len(b) > maxFrameHeader {
			f.err = fmt.Errorf("read the node's reply: unexpected output %q", runner.FirstLine(b))
		}
		return false
	}
	fields := strings.Fields(string(header))
	if len(fields) == 2 && fields[0] == "STEAD2" && fields[1] == "error" {
		if msg, _, ok := bytes.Cut(after, []byte("\n")); ok {
			f.err = fmt.Errorf("prepare the run on the node: %s", runner.FirstLine(msg))
		}
		return false
	}
	if len(fields) != 8 || fields[0] != "STEAD2" {
		f.err = fmt.Errorf("read the node's reply: unexpected output %q", runner.FirstLine(b))
		return false
	}
	var n [6]int64
	for i := range n {
		v, err := strconv.ParseInt(fields[2+i], 10, 64)
		if err != nil {
			f.err = fmt.Errorf("read the node's reply %q: %w", header, err)
			return false
		}
		n[i] = v
	}
	code, timedOut, outBytes, errBytes, outKept, errKept := n[0], n[1], n[2], n[3], n[4], n[5]
	spec := f.steps[len(f.results)].Spec
	if outKept < 0 || errKept < 0 || outKept > min(outBytes, int64(spec.StdoutLimit)) || errKept > min(errBytes, int64(spec.StderrLimit)) {
		f.err = fmt.Errorf("read the node's reply %q: output lengths out of bounds", header)
		return false
	}
	dir, body, ok := bytes.Cut(after, []byte("\n"))
	if !ok || int64(len(body)) < outKept+errKept {
		return false
	}
	if !strings.HasSuffix(string(dir), "/"+spec.RunID) {
		f.err = fmt.Errorf("read the node's reply: run directory %q is not run %s's", runner.FirstLine(dir), spec.RunID)
		return false
	}
	res := runner.Result{
		ExitCode:    int(code),
		TimedOut:    timedOut == 1,
		StdoutBytes: outBytes,
		StderrBytes: errBytes,
		Resumed:     fields[1] != "launched",
		RunDir:      string(dir),
	}
	res.Stdout, res.StdoutTruncated = runner.Keep(body[:outKept], spec.StdoutLimit, outBytes)
	res.Stderr, res.StderrTruncated = runner.Keep(body[outKept:outKept+errKept], spec.StderrLimit, errBytes)
	f.off += len(header) + 1 + len(dir) + 1 + int(outKept+errKept)
	f.results = append(f.results, res)
	f.lost = fields[1] == "lost"
	if f.reported != nil {
		f.reported(len(f.results) - 1)
	}
	return true
}
