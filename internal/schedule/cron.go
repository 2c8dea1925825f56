package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/adhocore/gronx"
)

// Years outside this range are refused, as SSM refuses them.
const (
	minYear = 1970
	maxYear = 2199
)

// field describes one position of an SSM cron expression.
type field struct {
	name   string
	lo, hi int
	names  map[string]int // accepted names, upper case; nil when the field has none
	steps  bool           // whether "/" is allowed
	want   string         // what a value may be, for error messages
}

var (
	monthNames = map[string]int{
		"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	}
	dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

	minutesField    = field{name: "minutes", lo: 0, hi: 59, steps: true, want: "0-59"}
	hoursField      = field{name: "hours", lo: 0, hi: 23, steps: true, want: "0-23"}
	dayOfMonthField = field{name: "day-of-month", lo: 1, hi: 31, steps: true, want: "1-31, L or nW"}
	monthField      = field{name: "month", lo: 1, hi: 12, names: monthNames, steps: true, want: "1-12 or JAN-DEC"}
	// SSM's cron table allows no "/" in day-of-week.
	dayOfWeekField = field{name: "day-of-week", lo: 1, hi: 7, names: dayNames, want: "1-7 (SUN-SAT), L, nL or n#k"}
	yearField      = field{name: "year", lo: minYear, hi: maxYear, steps: true, want: "1970-2199"}
)

// fieldErrorf reports a problem with one field of a cron expression, naming
// the field first.
func fieldErrorf(f field, format string, args ...any) error {
	return fmt.Errorf("%s: %s", f.name, fmt.Sprintf(format, args...))
}

// parseCron validates the inside of cron(...) and returns its fields as
// written and the equivalent gronx expression
// (seconds minutes hours day-of-month month day-of-week year).
func parseCron(body string) (fields []string, gronxExpr string, err error) {
	fields = strings.Fields(body)
	ssm := fields
	switch len(fields) {
	case 6:
	case 7:
		if n, ok := number(fields[0]); !ok || n != 0 {
			return fields, "", fmt.Errorf("seconds: must be 0, got %q", fields[0])
		}
		ssm = fields[1:]
	default:
		return fields, "", fmt.Errorf("want 6 fields (minutes hours day-of-month month day-of-week year) or 7 with a leading seconds field of 0, got %d", len(fields))
	}

	out := make([]string, 7)
	out[0] = "0"
	parsers := []func(string) (string, error){
		func(t string) (string, error) { return parseList(minutesField, t) },
		func(t string) (string, error) { return parseList(hoursField, t) },
		parseDayOfMonth,
		func(t string) (string, error) { return parseList(monthField, t) },
		parseDayOfWeek,
		func(t string) (string, error) { return parseList(yearField, t) },
	}
	for i, parse := range parsers {
		if out[i+1], err = parse(ssm[i]); err != nil {
			return fields, "", err
		}
	}

	domAny, dowAny := ssm[2] == "?", ssm[4] == "?"
	switch {
	case domAny && dowAny:
		return fields, "", errors.New("day-of-month and day-of-week cannot both be ?")
	case !domAny && !dowAny:
		return fields, "", errors.New("one of day-of-month and day-of-week must be ?")
	}
	if err := checkDayOccurs(ssm[2], out[3], ssm[3], out[4], ssm[5], out[6]); err != nil {
		return fields, "", err
	}
	gronxExpr = strings.Join(out, " ")
	if _, ok := cronNext(gronxExpr, firstInstant.Add(-time.Second)); !ok {
		return fields, "", errors.New("never fires in the years 1970-2199")
	}
	return fields, gronxExpr, nil
}

// parseDayOfMonth accepts, besides lists, SSM's L (last day of the month)
// and nW (the weekday nearest day n, within the month).
func parseDayOfMonth(tok string) (string, error) {
	f := dayOfMonthField
	up := upper(tok)
	switch {
	case up == "?":
		return "?", nil
	case up == "L":
		return "L", nil
	case up == "LW":
		// gronx has no "last weekday of the month": cronNext computes it.
		return lastWeekday, nil
	case strings.HasSuffix(up, "W"):
		day := strings.TrimSuffix(up, "W")
		n, ok := number(day)
		if !ok {
			return "", fieldErrorf(f, "%q is not a valid value (want %s; W takes a single day, not a list or range)", tok, f.want)
		}
		if n < f.lo || n > f.hi {
			return "", fieldErrorf(f, "%s in %s is out of range %d-%d", day, tok, f.lo, f.hi)
		}
		return strconv.Itoa(n) + "W", nil
	}
	return parseList(f, tok)
}

// parseDayOfWeek accepts, besides lists, SSM's L (Saturday, the last day of
// the week), nL (the last weekday n of the month) and n#k (the k-th weekday n
// of the month), and converts SSM's 1-7 (SUN-SAT) to gronx's 0-6.
func parseDayOfWeek(tok string) (string, error) {
	f := dayOfWeekField
	up := upper(tok)
	switch {
	case up == "?":
		return "?", nil
	case up == "L":
		return "6", nil
	case strings.HasSuffix(up, "L") && !strings.ContainsAny(up, ",-#"):
		d, err := value(f, strings.TrimSuffix(up, "L"), tok)
		if err != nil {
			return "", err
		}
		return strconv.Itoa(d-1) + "L", nil
	case strings.Contains(up, "#"):
		day, nth, _ := strings.Cut(up, "#")
		if strings.ContainsAny(day, ",-") {
			return "", fieldErrorf(f, "%q: # takes a single day, not a list or range", tok)
		}
		d, err := value(f, day, tok)
		if err != nil {
			return "", err
		}
		k, ok := number(nth)
		if !ok {
			return "", fieldErrorf(f, "%q: want n#k with k a number 1-5", tok)
		}
		if k < 1 || k > 5 {
			return "", fieldErrorf(f, "%s in %s is out of range 1-5", nth, tok)
		}
		return strconv.Itoa(d-1) + "#" + strconv.Itoa(k), nil
	}
	s, err := parseList(f, tok)
	if err != nil || s == "*" {
		return s, err
	}
	days := strings.Split(s, ",")
	for i, d := range days {
		n, _ := strconv.Atoi(d)
		days[i] = strconv.Itoa(n - 1)
	}
	return strings.Join(days, ","), nil
}

// parseList reads "*" or a comma-separated list of values, ranges (a-b) and
// steps (*/n, a/n, a-b/n) and returns "*" or the sorted plain numbers it
// stands for.
func parseList(f field, tok string) (string, error) {
	up := upper(tok)
	if up == "*" {
		return "*", nil
	}
	if up == "?" {
		return "", fieldErrorf(f, "? is only allowed in day-of-month and day-of-week")
	}
	in := make([]bool, f.hi+1)
	for _, item := range strings.Split(up, ",") {
		if item == "" {
			return "", fieldErrorf(f, "%q has an empty list item", tok)
		}
		base, stepText, stepped := strings.Cut(item, "/")
		var from, to int
		switch {
		case base == "*":
			if !stepped {
				return "", fieldErrorf(f, "* cannot be part of a list")
			}
			from, to = f.lo, f.hi
		case strings.Contains(base, "-"):
			a, b, _ := strings.Cut(base, "-")
			var err error
			if from, err = value(f, a, item); err != nil {
				return "", err
			}
			if to, err = value(f, b, item); err != nil {
				return "", err
			}
			if from > to {
				return "", fieldErrorf(f, "range %s runs backwards", base)
			}
		default:
			var err error
			if from, err = value(f, base, item); err != nil {
				return "", err
			}
			to = from
			if stepped {
				to = f.hi
			}
		}
		step := 1
		if stepped {
			if !f.steps {
				return "", fieldErrorf(f, "/ is not allowed in %s", f.name)
			}
			n, ok := number(stepText)
			if !ok || n < 1 || n > f.hi-f.lo+1 {
				return "", fieldErrorf(f, "step %q in %s must be a number 1-%d", stepText, item, f.hi-f.lo+1)
			}
			step = n
		}
		for v := from; v <= to; v += step {
			in[v] = true
		}
	}
	var vals []string
	for v := f.lo; v <= f.hi; v++ {
		if !in[v] {
			continue
		}
		// Runs of years become ranges: gronx re-reads the field at every
		// step of its search, and a 230-year list makes that slow.
		end := v
		for f.name == yearField.name && end < f.hi && in[end+1] {
			end++
		}
		if end > v {
			vals = append(vals, strconv.Itoa(v)+"-"+strconv.Itoa(end))
			v = end
			continue
		}
		vals = append(vals, strconv.Itoa(v))
	}
	return strings.Join(vals, ","), nil
}

// value reads one number or name of field f; item is what the user wrote,
// for the message.
func value(f field, s, item string) (int, error) {
	if n, ok := number(s); ok {
		if n < f.lo || n > f.hi {
			return 0, fieldErrorf(f, "%s is out of range %d-%d", s, f.lo, f.hi)
		}
		return n, nil
	}
	if n, ok := f.names[s]; ok {
		return n, nil
	}
	return 0, fieldErrorf(f, "%q is not a valid value (want %s)", item, f.want)
}

// number reads a plain decimal number: digits only, no sign, at most 9 of
// them so it cannot overflow.
func number(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// upper upper-cases ASCII letters only, so names like "mon" are accepted but
// no Unicode case folding can turn other text into a name.
func upper(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// longest is the most days each month can have, February counting leap years.
var longest = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// checkDayOccurs refuses a day-of-month that no chosen month has (30 in
// February, 31 in April), or a 29 February in years that are none of them
// leap years: such a schedule would never fire, and gronx would spend its
// whole search budget, year after year, failing to find it.
func checkDayOccurs(domText, dom, monthText, months, yearText, years string) error {
	first, ok := number(strings.Split(strings.TrimSuffix(dom, "W"), ",")[0])
	if !ok || months == "*" {
		return nil // ?, * or L: some day always qualifies
	}
	leapOnly := true // whether February is the only month that has the day
	occurs := false
	for _, m := range strings.Split(months, ",") {
		n, _ := strconv.Atoi(m)
		if first <= longest[n] {
			occurs = true
			leapOnly = leapOnly && n == 2 && first == 29
		}
	}
	if !occurs {
		return fieldErrorf(dayOfMonthField, "%s never occurs in month %s", domText, monthText)
	}
	if !leapOnly || years == "*" {
		return nil
	}
	for y, ok := nextYear(years, minYear); ok; y, ok = nextYear(years, y+1) {
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return nil
		}
	}
	return fieldErrorf(yearField, "%s has no leap year, so day %s of month %s never occurs", yearText, domText, monthText)
}

// nextYear returns the first year from y on that the gronx year field years
// ("*" or a list of years and ranges) allows, up to 2199.
func nextYear(years string, y int) (int, bool) {
	if years == "*" {
		return y, y <= maxYear
	}
	for _, item := range strings.Split(years, ",") {
		a, b, isRange := strings.Cut(item, "-")
		if !isRange {
			b = a
		}
		lo, _ := strconv.Atoi(a)
		hi, _ := strconv.Atoi(b)
		if hi >= y {
			return max(lo, y), true
		}
	}
	return 0, false
}

var (
	firstInstant = time.Date(minYear, 1, 1, 0, 0, 0, 0, time.UTC)
	lastInstant  = time.Date(maxYear+1, 1, 1, 0, 0, 0, 0, time.UTC)
)

// cronNext returns the first time strictly after `after` that matches the
// gronx expression expr, within SSM's years 1970-2199.
//
// gronx gives up ("tried so hard") after 500 steps of its search. That is
// plenty when a match exists within a few decades, which is the usual case
// and is tried first. When gronx gives up, the search goes on one allowed
// year at a time, each gronx search pinned to that year, so sparse
// expressions (a fifth Monday in February, a leap day in listed years) are
// still found or ruled out. Every result is checked against the expression,
// so a wrong answer from gronx cannot fire a run.
func cronNext(expr string, after time.Time) (time.Time, bool) {
	if f := strings.Fields(expr); f[3] == lastWeekday {
		f[3] = "L"
		return lastWeekdayNext(strings.Join(f, " "), after)
	}
	return gronxNext(expr, after)
}

// lastWeekday is SSM's LW in the day-of-month field: the last weekday
// (Monday to Friday) of the month. It stands in the gronx expression for
// cronNext, which gronx cannot be given.
const lastWeekday = "LW"

// lastWeekdayNext is cronNext for LW: the expression's times on the last
// day of each month (lastDay has L where LW was), each moved back to the
// Friday before when that day is a Saturday or Sunday. The move stays in
// the month and keeps the times in order, so the first moved time after
// `after` is the answer.
func lastWeekdayNext(lastDay string, after time.Time) (time.Time, bool) {
	from := after
	for {
		last, ok := gronxNext(lastDay, from)
		if !ok {
			return time.Time{}, false
		}
		t := last
		switch t.Weekday() {
		case time.Saturday:
			t = t.AddDate(0, 0, -1)
		case time.Sunday:
			t = t.AddDate(0, 0, -2)
		}
		if t.After(after) {
			return t, true
		}
		from = last
	}
}

// gronxNext is cronNext for an expression gronx reads.
func gronxNext(expr string, after time.Time) (time.Time, bool) {
	from := after.UTC()
	if from.Before(firstInstant) {
		from = firstInstant.Add(-time.Second)
	}
	if !from.Before(lastInstant) {
		return time.Time{}, false
	}
	g := gronx.New()
	if next, ok := tick(g, expr, from); ok {
		return next, next.Before(lastInstant)
	}
	cut := strings.LastIndexByte(expr, ' ')
	prefix, years := expr[:cut+1], expr[cut+1:]
	for year := from.Add(time.Second).Year(); ; year++ {
		var ok bool
		if year, ok = nextYear(years, year); !ok {
			return time.Time{}, false
		}
		if start := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Second); start.After(from) {
			from = start
		}
		if next, ok := tick(g, prefix+strconv.Itoa(year), from); ok && next.Year() == year {
			return next, true
		}
	}
}

// tick asks gronx for the first match of expr strictly after from and
// checks the answer.
func tick(g *gronx.Gronx, expr string, from time.Time) (time.Time, bool) {
	next, err := gronx.NextTickAfter(expr, from, false)
	if err != nil || !next.After(from) {
		return time.Time{}, false
	}
	due, _ := g.IsDue(expr, next)
	return next, due
}
