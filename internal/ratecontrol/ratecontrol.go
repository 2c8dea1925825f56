// Package ratecontrol parses SSM's MaxConcurrency and MaxErrors values
// ("10" or "10%") and resolves them against the number of targets an
// execution found, as SSM does at the start of a run.
package ratecontrol

import (
	"fmt"
	"strconv"
	"strings"
)

// Value is a count or a percentage of the targets.
type Value struct {
	N       int  `json:"n"`
	Percent bool `json:"percent"`
}

// String renders the value in flag form.
func (v Value) String() string {
	if v.Percent {
		return strconv.Itoa(v.N) + "%"
	}
	return strconv.Itoa(v.N)
}

// Parse reads "N" or "N%". name is the flag it came from, for the error;
// min is the smallest count allowed (1 for concurrency, 0 for errors).
func Parse(name, s string, min int) (Value, error) {
	digits, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	n, err := strconv.Atoi(digits)
	if err != nil || digits == "" || strings.ContainsAny(digits, "+-") {
		return Value{}, fmt.Errorf("%s %q: want a whole number or a percentage like 10%%", name, s)
	}
	if pct && (n < min || n > 100) {
		return Value{}, fmt.Errorf("%s %q: want a percentage from %d%% to 100%%", name, s, min)
	}
	if !pct && (n < min || n > 1000000) {
		return Value{}, fmt.Errorf("%s %q: want a number from %d to 1000000", name, s, min)
	}
	return Value{N: n, Percent: pct}, nil
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
