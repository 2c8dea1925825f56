package schedule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// MinimumRate is the shortest rate(...) interval SSM allows for an
// association; Parse refuses anything more frequent so a schedule cannot
// hammer a fleet.
const MinimumRate = 30 * time.Minute

// Kinds of schedule, as Kind reports them.
const (
	KindCron = "cron"
	KindRate = "rate"
	KindAt   = "at"
)

// Offset limits in days, as SSM's ScheduleOffset.
const (
	MinOffsetDays = 1
	MaxOffsetDays = 6
)

// atLayout is the only timestamp form at(...) accepts; it is read as UTC.
const atLayout = "2006-01-02T15:04:05"

// Schedule is a parsed association schedule expression. The zero Schedule
// means "no schedule": the association runs only when asked. A Schedule is a
// comparable value; it marshals to JSON as its expression so it can be kept
// in workflow state.
//
// A Schedule made from text that does not parse (FromText, or JSON) keeps
// the text and never fires; Text gives it back for the check of the spec it
// is in, so bad input is reported rather than failing to decode.
type Schedule struct {
	kind   string        // KindCron, KindRate, KindAt or "" for none
	expr   string        // the expression with normalised spacing, or the text that did not parse
	cron   string        // the gronx seven-field form of a cron expression
	every  time.Duration // the interval of a rate expression
	at     time.Time     // the one fire time of an at expression, UTC
	offset int           // schedule offset in days, cron only
	bad    bool          // expr and offset are text that did not parse
}

// Parse reads an SSM schedule expression: cron(...), rate(...) or at(...).
// The empty string (or only spaces) gives the zero Schedule, meaning none.
// Rates shorter than MinimumRate are refused, as SSM refuses them for
// associations.
func Parse(expr string) (Schedule, error) {
	return ParseWithMinimumRate(expr, MinimumRate)
}

// ParseWithMinimumRate is Parse with another floor for rate(...) intervals,
// so tests and development setups can run associations every minute. A
// minimum of zero or less accepts any rate, the shortest being one minute.
func ParseWithMinimumRate(expr string, minimum time.Duration) (Schedule, error) {
	s := strings.TrimSpace(expr)
	if s == "" {
		return Schedule{}, nil
	}
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return Schedule{}, fmt.Errorf("schedule %q: want cron(...), rate(...) or at(...)", expr)
	}
	kind, body := s[:open], s[open+1:len(s)-1]
	switch kind {
	case KindCron:
		fields, cron, err := parseCron(body)
		norm := "cron(" + strings.Join(fields, " ") + ")"
		if err != nil {
			return Schedule{}, fmt.Errorf("%s: %w", norm, err)
		}
		return Schedule{kind: KindCron, expr: norm, cron: cron}, nil
	case KindRate:
		return parseRate(body, minimum)
	case KindAt:
		body = strings.Join(strings.Fields(body), " ")
		norm := "at(" + body + ")"
		t, err := time.Parse(atLayout, body)
		// time.Parse takes one-digit hours; SSM wants the exact form.
		if err != nil || t.Format(atLayout) != body {
			return Schedule{}, fmt.Errorf("%s: want at(yyyy-mm-ddThh:mm:ss), a UTC time", norm)
		}
		return Schedule{kind: KindAt, expr: norm, at: t}, nil
	}
	return Schedule{}, fmt.Errorf("schedule %q: want cron(...), rate(...) or at(...)", expr)
}

// CheckFires refuses a schedule that will never fire after now: an at(...)
// time that has passed, a cron(...) whose years are over. Parse cannot
// tell, since it knows no clock; an association created with such a
// schedule would wait for ever.
func (s Schedule) CheckFires(now time.Time) error {
	switch s.kind {
	case KindAt:
		if !s.at.After(now) {
			return fmt.Errorf("%s: the time has passed (it is %s UTC)", s.expr, now.UTC().Format(atLayout))
		}
	case KindCron:
		if _, ok := s.Next(now); !ok {
			return fmt.Errorf("%s: never fires again: its years have passed", s.expr)
		}
	}
	return nil
}

// IsZero reports whether s is "no schedule", so callers can tell an
// association that only runs on demand.
func (s Schedule) IsZero() bool { return s.kind == "" && !s.bad }

// FromText makes a Schedule from user text without judging it: an
// expression (and offset) that parse give the Schedule Parse and WithOffset
// would, minus the MinimumRate floor; anything else is kept for Text, so a
// spec's check reports every problem at once.
func FromText(expr string, offsetDays int) Schedule {
	s, err := ParseWithMinimumRate(expr, 0)
	if err == nil && offsetDays != 0 {
		s, err = s.WithOffset(offsetDays)
	}
	if err != nil {
		return Schedule{expr: expr, offset: offsetDays, bad: true}
	}
	return s
}

// Text is the expression and offset to check: what Parse and WithOffset
// read to give s, or the text s was made from if it did not parse.
func (s Schedule) Text() (expr string, offsetDays int) { return s.expr, s.offset }

// String returns the expression with normalised spacing; Parse(s.String())
// gives s back (less any offset, which is not part of the expression).
func (s Schedule) String() string { return s.expr }

// Kind says which form the expression has: "cron", "rate", "at", or "" for
// the zero Schedule, since SSM allows some settings (offsets, apply only at
// cron interval) with some kinds only.
func (s Schedule) Kind() string { return s.kind }

// Offset returns the schedule offset in days, 0 when there is none.
func (s Schedule) Offset() int { return s.offset }

// Every returns the interval of a rate expression and 0 for other kinds, so
// callers can show or reason about the period without re-parsing.
func (s Schedule) Every() time.Duration { return s.every }

// WithOffset returns s with SSM's ScheduleOffset: every fire time moves that
// many days later. As in SSM it applies to cron expressions only and must be
// 1 to 6 days.
func (s Schedule) WithOffset(days int) (Schedule, error) {
	if s.kind != KindCron {
		return Schedule{}, fmt.Errorf("schedule offset %d: offsets apply to cron expressions only, not %q", days, s.expr)
	}
	if days < MinOffsetDays || days > MaxOffsetDays {
		return Schedule{}, fmt.Errorf("schedule offset %d for %s: want %d to %d days", days, s.expr, MinOffsetDays, MaxOffsetDays)
	}
	s.offset = days
	return s, nil
}

// Next returns the first fire time strictly after `after`, in UTC, and false
// when there is none: the zero Schedule, an at() not after `after`, or a cron
// expression whose years are over. It is pure and deterministic, for use in
// workflow code with workflow.Now.
//
// A rate has no fire times of its own, only an interval from some start;
// Next treats `after` as the last run and returns after plus the interval.
// Use NextFrom to keep a rate on a fixed grid.
func (s Schedule) Next(after time.Time) (time.Time, bool) {
	after = after.UTC()
	switch s.kind {
	case KindCron:
		shift := time.Duration(s.offset) * 24 * time.Hour
		base, ok := cronNext(s.cron, after.Add(-shift))
		if !ok {
			return time.Time{}, false
		}
		return base.Add(shift), true
	case KindRate:
		return after.Add(s.every), true
	case KindAt:
		if s.at.After(after) {
			return s.at, true
		}
	}
	return time.Time{}, false
}

// NextFrom returns the first fire time strictly after `after` of the series
// that starts at anchor, the moment the schedule took effect (an
// association's creation or last update):
//
//   - rate: anchor, anchor+N, anchor+2N, ... so runs stay on one grid however
//     late a workflow wakes up;
//   - cron: the cron times strictly after anchor, shifted by the offset; as
//     in SSM, a cron time that passed before anchor does not fire even when
//     its offset time is still ahead;
//   - at: anchor plays no part; the same as Next.
func (s Schedule) NextFrom(anchor, after time.Time) (time.Time, bool) {
	anchor, after = anchor.UTC(), after.UTC()
	switch s.kind {
	case KindCron:
		shift := time.Duration(s.offset) * 24 * time.Hour
		from := after.Add(-shift)
		if anchor.After(from) {
			from = anchor
		}
		base, ok := cronNext(s.cron, from)
		if !ok {
			return time.Time{}, false
		}
		return base.Add(shift), true
	case KindRate:
		if after.Before(anchor) {
			return anchor, true
		}
		// Whole seconds keep the arithmetic clear of time.Duration's
		// 292-year limit; the loop then fixes the sub-second remainder.
		step := int64(s.every / time.Second)
		k := (after.Unix() - anchor.Unix()) / step
		next := time.Unix(anchor.Unix()+k*step, int64(anchor.Nanosecond())).UTC()
		for !next.After(after) {
			next = next.Add(s.every)
		}
		return next, true
	}
	return s.Next(after)
}

// jsonOffset is the JSON form of a schedule with an offset, which the bare
// expression string cannot carry.
type jsonOffset struct {
	Expression string `json:"expression"`
	OffsetDays int    `json:"offsetDays"`
}

// MarshalJSON writes s as its expression string ("" for none), or as
// {"expression": ..., "offsetDays": n} when it has an offset, so workflow
// state keeps the whole schedule.
func (s Schedule) MarshalJSON() ([]byte, error) {
	if s.offset != 0 {
		return json.Marshal(jsonOffset{Expression: s.expr, OffsetDays: s.offset})
	}
	return json.Marshal(s.expr)
}

// UnmarshalJSON reads what MarshalJSON writes, as FromText does: it never
// fails, so a bad schedule in a workflow's input reaches the spec's check
// instead of failing the workflow task over and over. Any other JSON is
// kept as text. It does not apply MinimumRate: the floor is checked when
// an expression enters Stead, and state written under a lower floor
// (tests, development) must still load.
func (s *Schedule) UnmarshalJSON(data []byte) error {
	var in jsonOffset
	trimmed := bytes.TrimSpace(data)
	var err error
	if bytes.HasPrefix(trimmed, []byte("{")) {
		err = json.Unmarshal(trimmed, &in)
	} else {
		err = json.Unmarshal(trimmed, &in.Expression)
	}
	if err != nil {
		*s = Schedule{expr: string(trimmed), bad: true}
		return nil
	}
	*s = FromText(in.Expression, in.OffsetDays)
	return nil
}
