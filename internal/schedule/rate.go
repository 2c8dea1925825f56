package schedule

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// rateUnits maps each unit SSM accepts in rate(...) to its length.
var rateUnits = map[string]time.Duration{
	"minute": time.Minute, "minutes": time.Minute,
	"hour": time.Hour, "hours": time.Hour,
	"day": 24 * time.Hour, "days": 24 * time.Hour,
}

// parseRate reads the inside of rate(...): a whole number and a unit, the
// unit singular exactly when the number is 1, as SSM requires.
func parseRate(body string, minimum time.Duration) (Schedule, error) {
	parts := strings.Fields(body)
	norm := "rate(" + strings.Join(parts, " ") + ")"
	if len(parts) != 2 {
		return Schedule{}, fmt.Errorf("%s: want rate(value unit), e.g. rate(30 minutes)", norm)
	}
	text, unit := parts[0], parts[1]
	n, ok := number(text)
	if !ok && len(text) > 9 && strings.Trim(text, "0123456789") == "" && text[0] != '0' {
		return Schedule{}, fmt.Errorf("%s: interval is too long", norm)
	}
	if !ok || n < 1 || text[0] == '0' {
		return Schedule{}, fmt.Errorf("%s: value %q must be a whole number of at least 1", norm, text)
	}
	size, ok := rateUnits[unit]
	if !ok {
		return Schedule{}, fmt.Errorf("%s: unit %q must be minute(s), hour(s) or day(s)", norm, unit)
	}
	singular := strings.TrimSuffix(unit, "s")
	switch {
	case n == 1 && unit != singular:
		return Schedule{}, fmt.Errorf("%s: unit must be singular when the value is 1: want rate(1 %s)", norm, singular)
	case n != 1 && unit == singular:
		return Schedule{}, fmt.Errorf("%s: unit must be plural when the value is not 1: want rate(%d %ss)", norm, n, unit)
	}
	if int64(n) > math.MaxInt64/int64(size) {
		return Schedule{}, fmt.Errorf("%s: interval is too long", norm)
	}
	every := time.Duration(n) * size
	if every < minimum {
		return Schedule{}, fmt.Errorf("%s: more frequent than the minimum of %s for associations", norm, describe(minimum))
	}
	return Schedule{kind: KindRate, expr: norm, every: every}, nil
}

// describe writes a duration the way rate(...) does, e.g. "30 minutes".
func describe(d time.Duration) string {
	unit, size := "minute", time.Minute
	switch {
	case d%(24*time.Hour) == 0:
		unit, size = "day", 24*time.Hour
	case d%time.Hour == 0:
		unit, size = "hour", time.Hour
	case d%time.Minute != 0:
		return d.String()
	}
	n := int64(d / size)
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
