package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// httpAPIOff starts the warning the server gives at every start because it
// runs without its HTTP API, which this server leaves off on purpose.
const httpAPIOff = "HTTP API port has not been set"

// serverLogger feeds the embedded server's tagged log calls into a
// *slog.Logger, dropping records below min before any tag is converted.
// Once stopping is set only errors pass: services shutting down one after
// another warn about the ones already gone, which says nothing to a user.
type serverLogger struct {
	out      *slog.Logger
	min      slog.Leveler
	stopping *atomic.Bool
}

func newServerLogger(out *slog.Logger, min slog.Leveler) *serverLogger {
	return &serverLogger{out: out, min: min, stopping: new(atomic.Bool)}
}

var (
	_ log.Logger     = (*serverLogger)(nil)
	_ log.WithLogger = (*serverLogger)(nil)
)

// fatalError is what the server's Fatal calls turn into: a panic that Start
// recovers into an error, so a library never exits the process.
type fatalError struct{ msg string }

func (e fatalError) Error() string { return e.msg }

func (l *serverLogger) enabled(level slog.Level) bool {
	if l.stopping.Load() && level < slog.LevelError {
		return false
	}
	return level >= l.min.Level() && l.out.Enabled(context.Background(), level)
}

func (l *serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if !l.enabled(level) || strings.HasPrefix(msg, httpAPIOff) {
		return
	}
	l.out.LogAttrs(context.Background(), level, msg, attrs(tags)...)
}

func attrs(tags []tag.Tag) []slog.Attr {
	out := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		out = append(out, slog.Any(t.Key(), t.Value()))
	}
	return out
}

func (l *serverLogger) Debug(msg string, tags ...tag.Tag) { l.log(slog.LevelDebug, msg, tags) }
func (l *serverLogger) Info(msg string, tags ...tag.Tag)  { l.log(slog.LevelInfo, msg, tags) }
func (l *serverLogger) Warn(msg string, tags ...tag.Tag)  { l.log(slog.LevelWarn, msg, tags) }
func (l *serverLogger) Error(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

// DPanic only panics in the server's development builds; here it is an error.
func (l *serverLogger) DPanic(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

func (l *serverLogger) Panic(msg string, tags ...tag.Tag) {
	l.log(slog.LevelError, msg, tags)
	panic(msg)
}

func (l *serverLogger) Fatal(msg string, tags ...tag.Tag) {
	l.log(slog.LevelError, msg, tags)
	panic(fatalError{msg: fmt.Sprint(msg, " ", attrs(tags))})
}

func (l *serverLogger) With(tags ...tag.Tag) log.Logger {
	args := make([]any, 0, len(tags))
	for _, a := range attrs(tags) {
		args = append(args, a)
	}
	return &serverLogger{out: l.out.With(args...), min: l.min, stopping: l.stopping}
}
