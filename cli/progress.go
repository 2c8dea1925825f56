package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	ucli "github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/stead-io/stead/client"
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
func newProgressView(c *ucli.Context, execID string) progressView {
	w := c.App.ErrWriter
	if c.String("output") == "json" {
		return jsonProgress{w: w, execID: execID}
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{w: f, execID: execID}
	}
	return plainProgress{w: w}
}

// progressLine is what the plain and bar views say about the counts.
func progressLine(p client.Progress) string {
	k := p.Counts
	return fmt.Sprintf("%s: %d/%d done (%d succeeded, %d failed), %d in progress", p.Status, k.Done(), k.Total, k.Success, k.Errors(), k.InProgress)
}

type plainProgress struct{ w io.Writer }

func (v plainProgress) show(p client.Progress) {
	if p.Counts.Total == 0 && !p.Done {
		return // targets not resolved yet: nothing to count
	}
	fmt.Fprintln(v.w, progressLine(p))
}

func (plainProgress) finish() {}

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

// barProgress is one bar for the execution, sized once its targets are
// known, described by its counts.
type barProgress struct {
	w      *os.File
	execID string
	bar    *progressbar.ProgressBar
}

func (v *barProgress) show(p client.Progress) {
	k := p.Counts
	if k.Total == 0 && !p.Done {
		return
	}
	if v.bar == nil {
		v.bar = progressbar.NewOptions(k.Total,
			progressbar.OptionSetWriter(v.w),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetWidth(30),
			progressbar.OptionClearOnFinish(),
		)
	}
	if k.Total > v.bar.GetMax() {
		v.bar.ChangeMax(k.Total)
	}
	_ = v.bar.Set(k.Done())
	v.bar.Describe(fmt.Sprintf("%s %d ok, %d failed, %d running", p.Status, k.Success, k.Errors(), k.InProgress))
}

func (v *barProgress) finish() {
	if v.bar != nil {
		_ = v.bar.Finish()
		fmt.Fprintln(v.w)
	}
}
