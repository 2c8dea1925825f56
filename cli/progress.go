package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	ucli "github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/stead-io/stead/client"
	"github.com/stead-io/stead/contract"
)

// progressView shows an execution's progress as it is followed: a live
// bar on a terminal, one plain line per change otherwise, and one JSON
// object per line with --output json, for scripts.
type progressView interface {
	show(p client.Progress)
	// finish ends the display before the result is printed.
	finish()
}

// newProgressView picks the view for where stderr goes and the output
// format asked for.
func newProgressView(c *ucli.Context, cl *client.Client, name, execID string) progressView {
	w := c.App.ErrWriter
	if c.String("output") == "json" {
		return jsonProgress{w: w, execID: execID}
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return newBarProgress(c.Context, f, func(ctx context.Context, n int) ([]contract.RunningNode, error) {
			return cl.RunningNodes(ctx, name, execID, n)
		})
	}
	return &plainProgress{w: w}
}

// progressLine is what the plain view says about the counts.
func progressLine(p client.Progress) string {
	k := p.Counts
	return fmt.Sprintf("%s: %d/%d done (%d succeeded, %d failed), %d in progress", p.Status, k.Done(), k.Total, k.Success, k.Errors(), k.InProgress)
}

// plainProgress prints a line when what it says changes: the end of an
// execution whose last count was already printed adds no line.
type plainProgress struct {
	w    io.Writer
	last string
}

func (v *plainProgress) show(p client.Progress) {
	if p.Counts.Total == 0 && !p.Done {
		return // targets not resolved yet: nothing to count
	}
	if line := progressLine(p); line != v.last {
		fmt.Fprintln(v.w, line)
		v.last = line
	}
}

func (*plainProgress) finish() {}

// jsonProgress writes each change as one JSON object on its own line.
type jsonProgress struct {
	w      io.Writer
	execID string
}

func (v jsonProgress) show(p client.Progress) {
	b, err := json.Marshal(struct {
		ExecutionID string `json:"executionId"`
		client.Progress
	}{v.execID, p})
	if err == nil {
		fmt.Fprintln(v.w, string(b))
	}
}

func (jsonProgress) finish() {}

// slowestShown is how many of the longest running nodes the bar names.
const slowestShown = 3

// runningEvery paces the bar's look at which nodes run longest, and its
// redraw while no count changes, which is when a slow node shows.
const runningEvery = 2 * time.Second

// runningNodes lists an execution's longest running nodes (client.RunningNodes).
type runningNodes func(ctx context.Context, n int) ([]contract.RunningNode, error)

// barProgress is one bar for the execution, sized once its targets are
// known, described by its counts and the nodes running longest.
type barProgress struct {
	ctx     context.Context
	w       *os.File
	running runningNodes

	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	last client.Progress
	slow []contract.RunningNode
	// stop ends the refresher; refreshed is closed when it has.
	stop, refreshed chan struct{}
}

func newBarProgress(ctx context.Context, w *os.File, running runningNodes) *barProgress {
	return &barProgress{ctx: ctx, w: w, running: running, stop: make(chan struct{}), refreshed: make(chan struct{})}
}

func (v *barProgress) show(p client.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := p.Counts
	if k.Total == 0 && !p.Done {
		return
	}
	v.last = p
	if v.bar == nil {
		v.bar = progressbar.NewOptions(k.Total,
			progressbar.OptionSetWriter(v.w),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetWidth(30),
			progressbar.OptionClearOnFinish(),
		)
		go v.refresh()
	}
	if k.Total > v.bar.GetMax() {
		v.bar.ChangeMax(k.Total)
	}
	_ = v.bar.Set(k.Done())
	v.describe()
}

// describe redraws the bar's text; v.mu is held.
func (v *barProgress) describe() {
	if k := v.last.Counts; k.InProgress == 0 || v.last.Done {
		v.slow = nil
	}
	v.bar.Describe(barText(v.last, v.slow, time.Now()))
}

// refresh looks every runningEvery at the nodes running longest and
// redraws the bar with them, until finish.
func (v *barProgress) refresh() {
	defer close(v.refreshed)
	t := time.NewTicker(runningEvery)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
		}
		v.mu.Lock()
		busy := v.last.Counts.InProgress > 0 && !v.last.Done
		v.mu.Unlock()
		var slow []contract.RunningNode
		if busy {
			var err error
			// A failed look keeps the last names: the bar only shows,
			// and following the execution reports a lost server.
			if slow, err = v.running(v.ctx, slowestShown); err != nil {
				continue
			}
		}
		v.mu.Lock()
		v.slow = slow
		v.describe()
		v.mu.Unlock()
	}
}

// barText is the bar's description: the status, the counts and the
// nodes running longest, with how long they have run.
func barText(p client.Progress, slow []contract.RunningNode, now time.Time) string {
	k := p.Counts
	s := fmt.Sprintf("%s %d ok, %d failed, %d running", p.Status, k.Success, k.Errors(), k.InProgress)
	if len(slow) == 0 {
		return s
	}
	names := make([]string, len(slow))
	for i, n := range slow {
		names[i] = fmt.Sprintf("%s %s", n.NodeID, now.Sub(n.StartedAt).Round(time.Second))
	}
	return s + "; slowest: " + strings.Join(names, ", ")
}

func (v *barProgress) finish() {
	v.mu.Lock()
	started := v.bar != nil
	v.mu.Unlock()
	if !started {
		return
	}
	close(v.stop)
	<-v.refreshed
	_ = v.bar.Finish()
	fmt.Fprintln(v.w)
}
