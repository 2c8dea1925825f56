// Package problems collects every problem found with one input (a spec, a
// node, a document) into one error of one line, so that whoever sent the
// input — the CLI, an SDK client, a workflow's caller — learns everything
// wrong with it at once, in a message that fits a terminal line and a
// Temporal failure alike. A list is bounded: a file of thousands of bad
// entries reports the first Max problems and how many more there are.
package problems

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Max is how many problems an Error lists; the rest are only counted.
const Max = 20

// ErrInvalid is what every Error is (errors.Is), so callers can tell bad
// input from other failures without reading messages.
var ErrInvalid = errors.New("invalid")

// Error is an input's problems: the first Max of them, and how many there
// are in all.
type Error struct {
	// Problems are the first Max problems, each one line.
	Problems []string `json:"problems"`
	// Total counts every problem found, listed or not.
	Total int `json:"total"`
}

// Error joins the problems into one line.
func (e *Error) Error() string {
	msg := strings.Join(e.Problems, "; ")
	if more := e.Total - len(e.Problems); more > 0 {
		msg += fmt.Sprintf(" (and %d more)", more)
	}
	return msg
}

// Is makes every Error match ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// List gathers problems; its zero value is empty and ready to use.
type List struct {
	problems []string
	total    int
}

// Add records err's problems: each error of an errors.Join separately, the
// problems of an Error with its count, anything else as one problem. A nil
// err adds nothing.
func (l *List) Add(err error) {
	if err == nil {
		return
	}
	var e *Error
	if errors.As(err, &e) && e.Error() == err.Error() {
		for _, p := range e.Problems {
			l.add(p)
		}
		l.total += e.Total - len(e.Problems)
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, inner := range j.Unwrap() {
			l.Add(inner)
		}
		return
	}
	l.add(err.Error())
}

// Addf records one problem.
func (l *List) Addf(format string, args ...any) {
	l.add(fmt.Sprintf(format, args...))
}

func (l *List) add(p string) {
	l.total++
	if len(l.problems) < Max {
		l.problems = append(l.problems, OneLine(p))
	}
}

// Len is how many problems were added.
func (l *List) Len() int { return l.total }

// Err is the problems as an *Error, or nil when there are none.
func (l *List) Err() error {
	if l.total == 0 {
		return nil
	}
	return &Error{Problems: l.problems, Total: l.total}
}

// OneLine folds a message of several lines (an errors.Join of problems)
// into one, the lines separated by "; ", and collapses runs of spaces.
func OneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// Clip shortens s to at most max bytes (cut at a character boundary),
// saying how much was left out, so that one message cannot flood a
// terminal or a log line however much input produced it.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s ... (%d more bytes)", s[:cut], len(s)-cut)
}
