package schedule

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"", "every day", "cron(0/30 * * * ? *)", "cron(0 0 10 * * ? *)", "cron(5-10/5 1 * * ? *)",
	"cron(0 9 ? * MON-FRI *)", "cron(0 9 ? * 6L *)", "cron(30 23 ? * TUE#3 *)", "cron(0 0 L * ? *)",
	"cron(0 0 15W * ? *)", "cron(0 12 1 JAN,JUL ? *)", "cron(0 0 1 1 ? */3)", "cron(0 0 29 2 ? *)",
	"cron(0 0 ? 2 2#5 2025-2040)", "cron(0 25 * * ? *)", "cron(0 9 ? * 0 *)", "cron(0 9 LW * ? *)",
	"rate(30 minutes)", "rate(1 minute)", "rate(2 hour)", "rate(7 days)", "at(2025-03-05T10:00:00)",
	"at(2025-3-05T10:00:00)",
}

// FuzzParse checks that Parse never panics, that whatever it accepts
// re-parses from String() and from JSON to the same Schedule, and that Next
// returns a time strictly after its input which the expression matches, with
// no earlier match in between.
func FuzzParse(f *testing.F) {
	for i, seed := range fuzzSeeds {
		f.Add(seed, int64(i)*86_400*397)
	}
	f.Fuzz(func(t *testing.T, expr string, afterSeconds int64) {
		s, err := ParseWithMinimumRate(expr, 0)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			// Kept as text, through JSON too, for the spec's check to report.
			bad := FromText(expr, 0)
			data, err := json.Marshal(bad)
			if err != nil {
				t.Fatal(err)
			}
			var back Schedule
			if err := json.Unmarshal(data, &back); err != nil || back.IsZero() {
				t.Fatalf("JSON round trip of %s: got %#v, %v", data, back, err)
			}
			if text, _ := back.Text(); utf8.ValidString(expr) && text != expr {
				t.Fatalf("JSON round trip of %q gives %q", expr, text)
			}
			return
		}
		again, err := ParseWithMinimumRate(s.String(), 0)
		if err != nil || again != s {
			t.Fatalf("re-parse of %q: got %#v, %v; want %#v", s.String(), again, err, s)
		}
		if strict, err := Parse(expr); err == nil && strict != s {
			t.Fatalf("Parse and ParseWithMinimumRate disagree on %q", expr)
		}
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var decoded Schedule
		if err := json.Unmarshal(data, &decoded); err != nil || decoded != s {
			t.Fatalf("JSON round trip of %s: got %#v, %v", data, decoded, err)
		}

		// Spread the input over 1960-2209 so the year limits get exercised.
		const span = 250 * 366 * 86_400
		after := time.Unix(-315_619_200+((afterSeconds%span)+span)%span, 0).UTC()
		next, ok := s.Next(after)
		if !ok {
			if s.Kind() == KindRate {
				t.Fatalf("%s: rate without a next time", s)
			}
			return
		}
		if !next.After(after) {
			t.Fatalf("%s: Next(%s) = %s, not after", s, after, next)
		}
		if s.Kind() != KindCron {
			return
		}
		if !matches(s.cron, next) {
			t.Fatalf("%s: Next(%s) = %s, which the expression does not match", s, after, next)
		}
		if next.Sub(after) <= 48*time.Hour {
			for m := after.Truncate(time.Minute).Add(time.Minute); m.Before(next); m = m.Add(time.Minute) {
				if m.After(after) && matches(s.cron, m) {
					t.Fatalf("%s: Next(%s) = %s, but %s matches first", s, after, next, m)
				}
			}
		}
	})
}

// matches is a test oracle written apart from gronx: whether t fires the
// seven-field gronx expression that parseCron produces.
func matches(expr string, t time.Time) bool {
	f := strings.Fields(expr)
	if t.Second() != 0 || t.Nanosecond() != 0 || t.Year() > maxYear {
		return false
	}
	if !inList(f[1], t.Minute()) || !inList(f[2], t.Hour()) || !inList(f[4], int(t.Month())) || !inList(f[6], t.Year()) {
		return false
	}
	last := time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	wd := int(t.Weekday())
	dom, dow := f[3], f[5]
	switch {
	case dom == "L":
		return t.Day() == last
	case dom == "LW":
		lw := last
		switch time.Date(t.Year(), t.Month(), last, 0, 0, 0, 0, time.UTC).Weekday() {
		case time.Saturday:
			lw = last - 1
		case time.Sunday:
			lw = last - 2
		}
		return t.Day() == lw
	case strings.HasSuffix(dom, "W"):
		n, _ := strconv.Atoi(strings.TrimSuffix(dom, "W"))
		if n > last {
			return false
		}
		target := n
		switch time.Date(t.Year(), t.Month(), n, 0, 0, 0, 0, time.UTC).Weekday() {
		case time.Saturday:
			target = n - 1
			if n == 1 {
				target = 3
			}
		case time.Sunday:
			target = n + 1
			if n == last {
				target = n - 2
			}
		}
		return t.Day() == target
	case dom != "?":
		return inList(dom, t.Day())
	case strings.HasSuffix(dow, "L"):
		n, _ := strconv.Atoi(strings.TrimSuffix(dow, "L"))
		return wd == n && t.Day()+7 > last
	case strings.Contains(dow, "#"):
		day, nth, _ := strings.Cut(dow, "#")
		n, _ := strconv.Atoi(day)
		k, _ := strconv.Atoi(nth)
		return wd == n && (t.Day()-1)/7+1 == k
	}
	return inList(dow, wd)
}

func inList(list string, v int) bool {
	if list == "*" {
		return true
	}
	for _, item := range strings.Split(list, ",") {
		a, b, isRange := strings.Cut(item, "-")
		if !isRange {
			b = a
		}
		lo, _ := strconv.Atoi(a)
		hi, _ := strconv.Atoi(b)
		if lo <= v && v <= hi {
			return true
		}
	}
	return false
}

// TestNextAgainstOracle compares Next with a brute-force search over
// generated expressions that mix every SSM form, since gronx computes the
// fire times and a wrong one would run (or skip) an association.
func TestNextAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(opts ...string) string { return opts[rng.IntN(len(opts))] }
	n := func(lo, hi int) string { return strconv.Itoa(lo + rng.IntN(hi-lo+1)) }
	checked, slowest := 0, time.Duration(0)
	for i := 0; i < 1500; i++ {
		dom, dow := "?", "?"
		if rng.IntN(2) == 0 {
			dom = pick("*", n(1, 31), "L", n(1, 31)+"W", "1,15", "10-20", "*/10", "28-31", "29")
		} else {
			dow = pick("*", n(1, 7), n(1, 7)+"L", n(1, 7)+"#"+n(1, 5), "MON-FRI", "1,7", "L", "SUN")
		}
		expr := fmt.Sprintf("cron(%s %s %s %s %s %s)",
			pick("0", n(0, 59), "5,35", "0/15", "10-20/5", "*/30"),
			pick("*", n(0, 23), "9-17", "*/6", "1,13"),
			dom,
			pick("*", "*", n(1, 12), "JAN,JUL", "*/4", "2", "FEB-APR"),
			dow,
			pick("*", "*", "*", "2025-2030", "*/3", "2028,2032", "2196-2199"))
		s, err := Parse(expr)
		if err != nil {
			continue
		}
		after := time.Date(2020+rng.IntN(40), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, time.UTC)
		start := time.Now()
		got, ok := s.Next(after)
		slowest = max(slowest, time.Since(start))
		want, wantOK := firstMatch(s.cron, after)
		if ok != wantOK || !got.Equal(want) {
			t.Errorf("%s after %s: got %s %v, want %s %v", expr, after, got, ok, want, wantOK)
		}
		checked++
	}
	t.Logf("checked %d expressions; slowest Next took %s", checked, slowest)
}

// firstMatch finds by brute force the first minute after `after` that
// matches the gronx expression, skipping days that cannot match.
func firstMatch(expr string, after time.Time) (time.Time, bool) {
	f := strings.Fields(expr)
	day := time.Date(after.Year(), after.Month(), after.Day(), 0, 0, 0, 0, time.UTC)
	probe := strings.Join([]string{f[0], "*", "*", f[3], f[4], f[5], f[6]}, " ")
	for day.Year() <= maxYear {
		if !inList(f[6], day.Year()) {
			day = time.Date(day.Year()+1, 1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		// A day can match only if its first minute would, hour and minute aside.
		if !matches(probe, day) {
			day = day.AddDate(0, 0, 1)
			continue
		}
		for m := day; m.Day() == day.Day(); m = m.Add(time.Minute) {
			if m.After(after) && matches(expr, m) {
				return m, true
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{}, false
}
