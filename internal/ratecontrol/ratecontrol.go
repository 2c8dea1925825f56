// Package ratecontrol parses SSM's MaxConcurrency and MaxErrors values
// ("10" or "10%") and resolves them against the number of targets an
// execution found, as SSM does at the start of a run.
package ratecontrol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Value is a count or a percentage of the targets.
//
// A Value made from text (FromText, or JSON holding a string) that is not a
// count or a percentage keeps that text as its String, so the check of the
// spec it is in reports it (Parse of String) instead of the value failing
// to decode: a workflow whose input does not decode retries forever rather
// than failing.
type Value struct {
	N       int  `json:"n"`
	Percent bool `json:"percent"`
	// bad says the value is text that is not N or N%, kept in text.
	bad  bool
	text string
}

// String renders the value in flag form, or the text it was made from if
// that was not a count or a percentage.
func (v Value) String() string {
	if v.bad {
		return v.text
	}
	if v.Percent {
		return strconv.Itoa(v.N) + "%"
	}
	return strconv.Itoa(v.N)
}

// Parse reads "N" or "N%". name is the flag it came from, for the error;
// min is the smallest count allowed (1 for concurrency, 0 for errors).
func Parse(name, s string, min int) (Value, error) {
	v, ok := syntax(s)
	if !ok {
		return Value{}, fmt.Errorf("%s %q: want a whole number or a percentage like 10%%", name, s)
	}
	if v.Percent && (v.N < min || v.N > 100) {
		return Value{}, fmt.Errorf("%s %q: want a percentage from %d%% to 100%%", name, s, min)
	}
	if !v.Percent && (v.N < min || v.N > 1000000) {
		return Value{}, fmt.Errorf("%s %q: want a number from %d to 1000000", name, s, min)
	}
	return v, nil
}

// syntax reads "N" or "N%" without checking the range.
func syntax(s string) (Value, bool) {
	digits, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	n, err := strconv.Atoi(digits)
	if err != nil || digits == "" || strings.ContainsAny(digits, "+-") {
		return Value{}, false
	}
	return Value{N: n, Percent: pct}, true
}

// FromText makes a Value from user text without judging it: text that is
// not N or N% is kept as the value's String, so the spec's check reports
// every problem at once, with the name of the field it is in.
func FromText(s string) Value {
	if v, ok := syntax(s); ok {
		return v
	}
	return Value{bad: true, text: s}
}

// MarshalJSON writes {"n": N, "percent": P}, or the text of a value that
// is not a number (FromText), so that it is refused wherever it is read.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.bad {
		return json.Marshal(v.text)
	}
	return json.Marshal(plain{N: v.N, Percent: v.Percent})
}

// plain is Value's JSON object form.
type plain struct {
	N       int  `json:"n"`
	Percent bool `json:"percent"`
}

// UnmarshalJSON reads the object MarshalJSON writes, or any other JSON as
// text for FromText ("10%", 3, "abc"): it never fails, so bad input reaches
// the spec's check.
func (v *Value) UnmarshalJSON(data []byte) error {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("{")) {
		var p plain
		if err := json.Unmarshal(trimmed, &p); err == nil {
			*v = Value{N: p.N, Percent: p.Percent}
			return nil
		}
	}
	var s string
	if err := json.Unmarshal(trimmed, &s); err != nil {
		s = string(trimmed)
	}
	*v = FromText(s)
	return nil
}

// Concurrency is how many targets may run at once out of total: a
// percentage rounds down but never below one target.
func (v Value) Concurrency(total int) int {
	n := v.N
	if v.Percent {
		n = total * v.N / 100
	}
	return max(n, 1)
}

// ErrorLimit is how many failed targets are tolerated out of total; the
// run stops dispatching at ErrorLimit+1 failures. A percentage rounds down.
func (v Value) ErrorLimit(total int) int {
	if v.Percent {
		return total * v.N / 100
	}
	return v.N
}
