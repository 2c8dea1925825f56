package schedule

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ref is a Saturday: 2025-03-01T00:00:00Z.
var ref = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Every "next" list was worked out by hand from a calendar for March 2025
// onwards; "" marks the end of the schedule.
// A schedule that cannot fire after now is refused when an association
// is created or updated, since it would wait for ever.
func TestCheckFires(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"at(2025-03-01T00:00:01)", ""},
		{"at(2025-03-01T00:00:00)", "at(2025-03-01T00:00:00): the time has passed (it is 2025-03-01T00:00:00 UTC)"},
		{"at(1999-01-01T00:00:00)", "at(1999-01-01T00:00:00): the time has passed"},
		{"cron(0 0 1 1 ? 1970)", "cron(0 0 1 1 ? 1970): never fires again: its years have passed"},
		{"cron(0 0 1 1 ? 2025-2026)", ""},
		{"rate(1 day)", ""},
		{"", ""},
	} {
		s, err := Parse(tc.expr)
		require.NoError(t, err, tc.expr)
		err = s.CheckFires(ref)
		if tc.want == "" {
			assert.NoError(t, err, tc.expr)
		} else {
			assert.ErrorContains(t, err, tc.want)
		}
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		expr, norm, kind string
		next             []string
	}{
		{"cron(0/30 * * * ? *)", "", "cron", []string{"2025-03-01T00:30:00Z", "2025-03-01T01:00:00Z", "2025-03-01T01:30:00Z"}},
		{"cron(0 10 * * ? *)", "", "cron", []string{"2025-03-01T10:00:00Z", "2025-03-02T10:00:00Z", "2025-03-03T10:00:00Z"}},
		{"cron(0 0 10 * * ? *)", "", "cron", []string{"2025-03-01T10:00:00Z", "2025-03-02T10:00:00Z", "2025-03-03T10:00:00Z"}},
		{"cron(0 */6 * * ? *)", "", "cron", []string{"2025-03-01T06:00:00Z", "2025-03-01T12:00:00Z", "2025-03-01T18:00:00Z"}},
		{"cron(5-10/5 1 * * ? *)", "", "cron", []string{"2025-03-01T01:05:00Z", "2025-03-01T01:10:00Z", "2025-03-02T01:05:00Z"}},
		{"cron(0 9 ? * 2 *)", "", "cron", []string{"2025-03-03T09:00:00Z", "2025-03-10T09:00:00Z", "2025-03-17T09:00:00Z"}},
		{"cron(0 9 ? * mon *)", "", "cron", []string{"2025-03-03T09:00:00Z", "2025-03-10T09:00:00Z", "2025-03-17T09:00:00Z"}},
		{"cron(0 9 ? * SUN *)", "", "cron", []string{"2025-03-02T09:00:00Z", "2025-03-09T09:00:00Z", "2025-03-16T09:00:00Z"}},
		{"cron(0 9 ? * 7 *)", "", "cron", []string{"2025-03-01T09:00:00Z", "2025-03-08T09:00:00Z", "2025-03-15T09:00:00Z"}},
		{"cron(0 9 ? * L *)", "", "cron", []string{"2025-03-01T09:00:00Z", "2025-03-08T09:00:00Z", "2025-03-15T09:00:00Z"}},
		{"cron(0 9 ? * 1,7 *)", "", "cron", []string{"2025-03-01T09:00:00Z", "2025-03-02T09:00:00Z", "2025-03-08T09:00:00Z"}},
		{"cron(0 9 ? * MON-FRI *)", "", "cron", []string{"2025-03-03T09:00:00Z", "2025-03-04T09:00:00Z", "2025-03-05T09:00:00Z"}},
		{"cron(0 9 ? * 6L *)", "", "cron", []string{"2025-03-28T09:00:00Z", "2025-04-25T09:00:00Z", "2025-05-30T09:00:00Z"}},
		{"cron(0 9 ? * FRIL *)", "", "cron", []string{"2025-03-28T09:00:00Z", "2025-04-25T09:00:00Z", "2025-05-30T09:00:00Z"}},
		{"cron(0 9 ? * 2#1 *)", "", "cron", []string{"2025-03-03T09:00:00Z", "2025-04-07T09:00:00Z", "2025-05-05T09:00:00Z"}},
		{"cron(30 23 ? * TUE#3 *)", "", "cron", []string{"2025-03-18T23:30:00Z", "2025-04-15T23:30:00Z", "2025-05-20T23:30:00Z"}},
		{"cron(0 0 ? * 2#5 *)", "", "cron", []string{"2025-03-31T00:00:00Z", "2025-06-30T00:00:00Z", "2025-09-29T00:00:00Z"}},
		{"cron(0 0 L * ? *)", "", "cron", []string{"2025-03-31T00:00:00Z", "2025-04-30T00:00:00Z", "2025-05-31T00:00:00Z"}},
		// LW: the last weekday; May 31 2025 is a Saturday, August 31 a Sunday.
		{"cron(0 9 LW * ? *)", "", "cron", []string{"2025-03-31T09:00:00Z", "2025-04-30T09:00:00Z", "2025-05-30T09:00:00Z", "2025-06-30T09:00:00Z"}},
		{"cron(0 9,17 lw 8 ? *)", "cron(0 9,17 lw 8 ? *)", "cron", []string{"2025-08-29T09:00:00Z", "2025-08-29T17:00:00Z", "2026-08-31T09:00:00Z"}},
		{"cron(0 0 15W * ? *)", "", "cron", []string{"2025-03-14T00:00:00Z", "2025-04-15T00:00:00Z", "2025-05-15T00:00:00Z"}},
		{"cron(0 0 1W * ? *)", "", "cron", []string{"2025-03-03T00:00:00Z", "2025-04-01T00:00:00Z", "2025-05-01T00:00:00Z"}},
		{"cron(0 12 1 JAN,JUL ? *)", "", "cron", []string{"2025-07-01T12:00:00Z", "2026-01-01T12:00:00Z", "2026-07-01T12:00:00Z"}},
		{"cron(0 0 1 */4 ? *)", "", "cron", []string{"2025-05-01T00:00:00Z", "2025-09-01T00:00:00Z", "2026-01-01T00:00:00Z"}},
		// Steps count from the field's first value: years 1970, 1973, ...
		{"cron(0 0 1 1 ? */3)", "", "cron", []string{"2027-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "2033-01-01T00:00:00Z"}},
		{"cron(0 0 29 2 ? *)", "", "cron", []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"}},
		{"cron(0 0 1 1 ? 2030-2031)", "", "cron", []string{"2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z", ""}},
		{"cron(0 0 1 1 ? 2020)", "", "cron", []string{""}},
		{"  cron( 0   10 *\t* ? * )  ", "cron(0 10 * * ? *)", "cron", []string{"2025-03-01T10:00:00Z"}},
		{"rate(30 minutes)", "", "rate", []string{"2025-03-01T00:30:00Z", "2025-03-01T01:00:00Z", "2025-03-01T01:30:00Z"}},
		{"rate(1 hour)", "", "rate", []string{"2025-03-01T01:00:00Z", "2025-03-01T02:00:00Z", "2025-03-01T03:00:00Z"}},
		{"rate( 1   day )", "rate(1 day)", "rate", []string{"2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z"}},
		{"at(2025-03-05T10:00:00)", "", "at", []string{"2025-03-05T10:00:00Z", ""}},
		{"at(2025-02-05T10:00:00)", "", "at", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := Parse(tt.expr)
			require.NoError(t, err)
			norm := tt.norm
			if norm == "" {
				norm = tt.expr
			}
			assert.Equal(t, norm, s.String())
			assert.Equal(t, tt.kind, s.Kind())
			assert.False(t, s.IsZero())
			after := ref
			for i, want := range tt.next {
				got, ok := s.Next(after)
				if want == "" {
					assert.False(t, ok, "fire %d: got %s, want none", i, got)
					break
				}
				require.True(t, ok, "fire %d: got none, want %s", i, want)
				assert.Equal(t, utc(want), got, "fire %d", i)
				after = got
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"every day", `schedule "every day": want cron(...), rate(...) or at(...)`},
		{"CRON(0 9 * * ? *)", `schedule "CRON(0 9 * * ? *)": want cron(...), rate(...) or at(...)`},
		{"cron 0 9 * * ? *", `want cron(...), rate(...) or at(...)`},
		{"cron(0 25 * * ? *)", "cron(0 25 * * ? *): hours: 25 is out of range 0-23"},
		{"cron(60 1 * * ? *)", "cron(60 1 * * ? *): minutes: 60 is out of range 0-59"},
		{"cron(0 9 * * ?)", "cron(0 9 * * ?): want 6 fields (minutes hours day-of-month month day-of-week year) or 7 with a leading seconds field of 0, got 5"},
		{"cron(0 0 9 * * ? * *)", "got 8"},
		{"cron(5 0 9 * * ? *)", `cron(5 0 9 * * ? *): seconds: must be 0, got "5"`},
		{"cron(0 9 1 * MON *)", "cron(0 9 1 * MON *): one of day-of-month and day-of-week must be ?"},
		{"cron(0 9 * * * *)", "one of day-of-month and day-of-week must be ?"},
		{"cron(0 9 ? * ? *)", "day-of-month and day-of-week cannot both be ?"},
		{"cron(0 9 ? * 0 *)", "cron(0 9 ? * 0 *): day-of-week: 0 is out of range 1-7"},
		{"cron(0 9 ? * 8 *)", "day-of-week: 8 is out of range 1-7"},
		{"cron(0 9 ? * 0-5 *)", "day-of-week: 0 is out of range 1-7"},
		{"cron(0 9 ? * MUN *)", `day-of-week: "MUN" is not a valid value (want 1-7 (SUN-SAT), L, nL or n#k)`},
		{"cron(0 9 ? * 1/2 *)", "day-of-week: / is not allowed in day-of-week"},
		{"cron(0 9 ? * 2#6 *)", "day-of-week: 6 in 2#6 is out of range 1-5"},
		{"cron(0 9 ? * 2#0 *)", "day-of-week: 0 in 2#0 is out of range 1-5"},
		{"cron(0 9 ? * 8#1 *)", "day-of-week: 8 is out of range 1-7"},
		{"cron(0 9 ? * 1-2#1 *)", `day-of-week: "1-2#1": # takes a single day, not a list or range`},
		{"cron(0 9 ? * 8L *)", "day-of-week: 8 is out of range 1-7"},
		{"cron(0 9 0 * ? *)", "day-of-month: 0 is out of range 1-31"},
		{"cron(0 9 32 * ? *)", "day-of-month: 32 is out of range 1-31"},
		{"rate(2147483647 minutes)", "rate(2147483647 minutes): interval is too long"},
		{"cron(0 9 32W * ? *)", "day-of-month: 32 in 32W is out of range 1-31"},
		{"cron(0 9 1,15W * ? *)", `day-of-month: "1,15W" is not a valid value (want 1-31, L or nW; W takes a single day, not a list or range)`},
		{"cron(0 9 L-3 * ? *)", `day-of-month: "L-3" is not a valid value (want 1-31, L or nW)`},
		{"cron(0 9 30 2 ? *)", "day-of-month: 30 never occurs in month 2"},
		{"cron(0 9 31 APR,JUN ? *)", "day-of-month: 31 never occurs in month APR,JUN"},
		{"cron(0 9 29 2 ? 2100-2103)", "year: 2100-2103 has no leap year, so day 29 of month 2 never occurs"},
		{"cron(0 9 29W FEB ? 2021,2022)", "year: 2021,2022 has no leap year, so day 29W of month FEB never occurs"},
		{"cron(0 9 ? 2 3#5 2029-2199/7)", "cron(0 9 ? 2 3#5 2029-2199/7): never fires in the years 1970-2199"},
		{"cron(0 9 * 13 ? *)", "month: 13 is out of range 1-12"},
		{"cron(0 9 * JANUARY ? *)", `month: "JANUARY" is not a valid value (want 1-12 or JAN-DEC)`},
		{"cron(0 9 * * ? 1969)", "year: 1969 is out of range 1970-2199"},
		{"cron(0 9 * * ? 2200)", "year: 2200 is out of range 1970-2199"},
		{"cron(0 5-2 * * ? *)", "hours: range 5-2 runs backwards"},
		{"cron(0/0 * * * ? *)", `minutes: step "0" in 0/0 must be a number 1-60`},
		{"cron(*/ * * * ? *)", `minutes: step "" in */ must be a number 1-60`},
		{"cron(? 9 * * ? *)", "minutes: ? is only allowed in day-of-month and day-of-week"},
		{"cron(*,5 9 * * ? *)", "minutes: * cannot be part of a list"},
		{"cron(1,,2 9 * * ? *)", `minutes: "1,,2" has an empty list item`},
		{"cron(+5 9 * * ? *)", `minutes: "+5" is not a valid value (want 0-59)`},
		{"cron(-5 9 * * ? *)", `minutes: "-5" is not a valid value (want 0-59)`},
		{"cron(5W 9 * * ? *)", `minutes: "5W" is not a valid value (want 0-59)`},
		{"rate(1 minutes)", "rate(1 minutes): unit must be singular when the value is 1: want rate(1 minute)"},
		{"rate(2 hour)", "rate(2 hour): unit must be plural when the value is not 1: want rate(2 hours)"},
		{"rate(10 minutes)", "rate(10 minutes): more frequent than the minimum of 30 minutes for associations"},
		{"rate(0 minutes)", `rate(0 minutes): value "0" must be a whole number of at least 1`},
		{"rate(-5 minutes)", `value "-5" must be a whole number of at least 1`},
		{"rate(045 minutes)", `value "045" must be a whole number of at least 1`},
		{"rate(1.5 hours)", `value "1.5" must be a whole number of at least 1`},
		{"rate(5 weeks)", `rate(5 weeks): unit "weeks" must be minute(s), hour(s) or day(s)`},
		{"rate(5 Hours)", `unit "Hours" must be minute(s), hour(s) or day(s)`},
		{"rate(30)", "rate(30): want rate(value unit), e.g. rate(30 minutes)"},
		{"rate(999999999 days)", "rate(999999999 days): interval is too long"},
		{"at(2025-13-01T00:00:00)", "at(2025-13-01T00:00:00): want at(yyyy-mm-ddThh:mm:ss), a UTC time"},
		{"at(2025-03-05 10:00:00)", "want at(yyyy-mm-ddThh:mm:ss), a UTC time"},
		{"at(2025-03-05T1:00:00)", "want at(yyyy-mm-ddThh:mm:ss), a UTC time"},
		{"at(2025-03-05T10:00:00Z)", "want at(yyyy-mm-ddThh:mm:ss), a UTC time"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Parse(tt.expr)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

// SSM numbers days of the week 1-7 from Sunday; gronx 0-6. Check the
// conversion over a year of fires for each form.
func TestDayOfWeek(t *testing.T) {
	tests := []struct {
		expr string
		ok   func(time.Time) bool
	}{
		{"cron(0 9 ? * 2 *)", func(t time.Time) bool { return t.Weekday() == time.Monday }},
		{"cron(0 9 ? * 1 *)", func(t time.Time) bool { return t.Weekday() == time.Sunday }},
		{"cron(0 9 ? * SAT *)", func(t time.Time) bool { return t.Weekday() == time.Saturday }},
		{"cron(0 9 ? * 1-3 *)", func(t time.Time) bool { return t.Weekday() <= time.Tuesday }},
		{"cron(0 9 ? * THU-SAT *)", func(t time.Time) bool { return t.Weekday() >= time.Thursday }},
		{"cron(0 9 ? * 6L *)", func(t time.Time) bool {
			return t.Weekday() == time.Friday && t.AddDate(0, 0, 7).Month() != t.Month()
		}},
		{"cron(0 9 ? * 1L *)", func(t time.Time) bool {
			return t.Weekday() == time.Sunday && t.AddDate(0, 0, 7).Month() != t.Month()
		}},
		{"cron(0 9 ? * 2#1 *)", func(t time.Time) bool { return t.Weekday() == time.Monday && t.Day() <= 7 }},
		{"cron(0 9 ? * 7#2 *)", func(t time.Time) bool {
			return t.Weekday() == time.Saturday && t.Day() > 7 && t.Day() <= 14
		}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := Parse(tt.expr)
			require.NoError(t, err)
			after := ref
			for i := 0; i < 60; i++ {
				next, ok := s.Next(after)
				require.True(t, ok)
				assert.True(t, tt.ok(next), "fire %d at %s (%s)", i, next, next.Weekday())
				after = next
			}
		})
	}
}

func TestMinimumRate(t *testing.T) {
	_, err := Parse("rate(1 minute)")
	require.Error(t, err)

	s, err := ParseWithMinimumRate("rate(1 minute)", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, s.Every())

	_, err = ParseWithMinimumRate("rate(2 minutes)", 5*time.Minute)
	assert.EqualError(t, err, "rate(2 minutes): more frequent than the minimum of 5 minutes for associations")

	_, err = ParseWithMinimumRate("rate(2 minutes)", 0)
	assert.NoError(t, err)
}

func TestNextFromRate(t *testing.T) {
	s, err := Parse("rate(30 minutes)")
	require.NoError(t, err)
	anchor := utc("2025-03-01T10:07:00Z")
	tests := []struct{ after, want string }{
		{"2025-03-01T09:00:00Z", "2025-03-01T10:07:00Z"}, // before the anchor: the anchor itself
		{"2025-03-01T10:07:00Z", "2025-03-01T10:37:00Z"}, // on a fire time: the next one
		{"2025-03-01T12:00:00Z", "2025-03-01T12:07:00Z"}, // late wake-up: back on the grid
		{"2025-03-01T12:06:59Z", "2025-03-01T12:07:00Z"},
		{"2425-03-01T12:06:59Z", "2425-03-01T12:07:00Z"}, // beyond time.Duration's range
	}
	for _, tt := range tests {
		t.Run(tt.after, func(t *testing.T) {
			got, ok := s.NextFrom(anchor, utc(tt.after))
			require.True(t, ok)
			assert.Equal(t, utc(tt.want), got)
		})
	}

	// Sub-second anchors stay on their grid.
	a := anchor.Add(500 * time.Millisecond)
	got, ok := s.NextFrom(a, a)
	require.True(t, ok)
	assert.Equal(t, a.Add(30*time.Minute), got)
}

func TestOffset(t *testing.T) {
	// SSM's example: the second Thursday, offset 3, runs on the Sunday after.
	s, err := Parse("cron(0 0 ? * THU#2 *)")
	require.NoError(t, err)
	s, err = s.WithOffset(3)
	require.NoError(t, err)
	assert.Equal(t, 3, s.Offset())

	after := ref
	for _, want := range []string{"2025-03-16T00:00:00Z", "2025-04-13T00:00:00Z", "2025-05-11T00:00:00Z"} {
		got, ok := s.Next(after)
		require.True(t, ok)
		assert.Equal(t, utc(want), got)
		assert.Equal(t, time.Sunday, got.Weekday())
		after = got
	}

	// A cron time that passed before the schedule took effect does not fire
	// on its offset day: created on 2025-03-14, after Thursday the 13th,
	// the first run is April's.
	anchor := utc("2025-03-14T08:00:00Z")
	got, ok := s.NextFrom(anchor, anchor)
	require.True(t, ok)
	assert.Equal(t, utc("2025-04-13T00:00:00Z"), got)
	got, ok = s.Next(anchor)
	require.True(t, ok)
	assert.Equal(t, utc("2025-03-16T00:00:00Z"), got)

	// Offsets cross month ends.
	last, err := Parse("cron(0 0 L * ? *)")
	require.NoError(t, err)
	last, err = last.WithOffset(1)
	require.NoError(t, err)
	got, ok = last.Next(ref)
	require.True(t, ok)
	assert.Equal(t, utc("2025-04-01T00:00:00Z"), got)

	for _, tt := range []struct {
		expr string
		days int
		want string
	}{
		{"cron(0 0 ? * THU#2 *)", 0, "schedule offset 0 for cron(0 0 ? * THU#2 *): want 1 to 6 days"},
		{"cron(0 0 ? * THU#2 *)", 7, "schedule offset 7 for cron(0 0 ? * THU#2 *): want 1 to 6 days"},
		{"rate(1 day)", 2, `schedule offset 2: offsets apply to cron expressions only, not "rate(1 day)"`},
		{"at(2025-03-05T10:00:00)", 2, "offsets apply to cron expressions only"},
		{"", 2, `offsets apply to cron expressions only, not ""`},
	} {
		p, err := Parse(tt.expr)
		require.NoError(t, err)
		_, err = p.WithOffset(tt.days)
		assert.ErrorContains(t, err, tt.want)
	}
}

func TestJSON(t *testing.T) {
	withOffset, err := Parse("cron(0 0 ? * THU#2 *)")
	require.NoError(t, err)
	withOffset, err = withOffset.WithOffset(3)
	require.NoError(t, err)
	fast, err := ParseWithMinimumRate("rate(1 minute)", 0)
	require.NoError(t, err)

	tests := []struct {
		name string
		s    Schedule
		want string
	}{
		{"none", Schedule{}, `{"S":""}`},
		{"cron", mustParse(t, "cron(0 9 ? * MON-FRI *)"), `{"S":"cron(0 9 ? * MON-FRI *)"}`},
		{"rate", mustParse(t, "rate(30 minutes)"), `{"S":"rate(30 minutes)"}`},
		{"at", mustParse(t, "at(2025-03-05T10:00:00)"), `{"S":"at(2025-03-05T10:00:00)"}`},
		{"offset", withOffset, `{"S":{"expression":"cron(0 0 ? * THU#2 *)","offsetDays":3}}`},
		// State written under a lower floor still loads.
		{"below minimum", fast, `{"S":"rate(1 minute)"}`},
	}
	type state struct{ S Schedule }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(state{tt.s})
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(data))
			var back state
			require.NoError(t, json.Unmarshal(data, &back))
			assert.Equal(t, tt.s, back.S)
			assert.True(t, tt.s == back.S)
		})
	}

	var s Schedule
	require.NoError(t, json.Unmarshal([]byte("null"), &s))
	assert.True(t, s.IsZero())

	// What does not parse is kept as text, never fires, and writes back as it came.
	for in, back := range map[string]string{`"every day"`: `"every day"`, `{"expression":"rate(1 day)","offsetDays":2}`: "", `42`: `"42"`} {
		var bad Schedule
		require.NoError(t, json.Unmarshal([]byte(in), &bad))
		assert.False(t, bad.IsZero(), in)
		assert.Empty(t, bad.Kind(), in)
		_, ok := bad.Next(time.Now())
		assert.False(t, ok, in)
		out, err := json.Marshal(bad)
		require.NoError(t, err)
		if back == "" {
			back = in
		}
		assert.JSONEq(t, back, string(out))
	}
}

func TestFromText(t *testing.T) {
	s := FromText("cron(0  3 ? * SUN *)", 2)
	require.Equal(t, "cron(0 3 ? * SUN *)", s.String())
	require.Equal(t, 2, s.Offset())
	// Below the floor is a schedule still; Parse of its Text refuses it.
	fast := FromText("rate(5 minutes)", 0)
	require.Equal(t, KindRate, fast.Kind())
	expr, _ := fast.Text()
	_, err := Parse(expr)
	require.ErrorContains(t, err, "more frequent than the minimum of 30 minutes")

	for _, tt := range []struct {
		expr string
		days int
		want string
	}{
		{"cron(0 25 * * ? *)", 0, "cron(0 25 * * ? *): hours: 25 is out of range 0-23"},
		{"every day", 0, `schedule "every day": want cron(...), rate(...) or at(...)`},
		{"rate(1 day)", 2, "offsets apply to cron expressions only"},
	} {
		bad := FromText(tt.expr, tt.days)
		require.False(t, bad.IsZero())
		expr, days := bad.Text()
		require.Equal(t, tt.expr, expr)
		require.Equal(t, tt.days, days)
		p, err := Parse(expr)
		if err == nil {
			_, err = p.WithOffset(days)
		}
		require.ErrorContains(t, err, tt.want)
	}
	require.True(t, FromText("", 0).IsZero())
}

func mustParse(t *testing.T, expr string) Schedule {
	t.Helper()
	s, err := Parse(expr)
	require.NoError(t, err)
	return s
}

func TestZero(t *testing.T) {
	for _, expr := range []string{"", "   "} {
		s, err := Parse(expr)
		require.NoError(t, err)
		assert.True(t, s.IsZero())
		assert.Equal(t, "", s.Kind())
		assert.Equal(t, "", s.String())
		_, ok := s.Next(ref)
		assert.False(t, ok)
		_, ok = s.NextFrom(ref, ref)
		assert.False(t, ok)
	}
}

// Workflow replay needs the same answer every time, whatever the caller's
// time zone or sub-second noise.
func TestDeterminism(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*60*60)
	for _, expr := range []string{"cron(0 9 ? * 6L *)", "cron(0/30 * * * ? *)", "rate(30 minutes)", "at(2025-03-05T10:00:00)"} {
		t.Run(expr, func(t *testing.T) {
			s := mustParse(t, expr)
			first, ok := s.Next(ref)
			require.True(t, ok)
			for i := 0; i < 50; i++ {
				again, _ := s.Next(ref)
				assert.Equal(t, first, again)
				assert.Equal(t, mustParse(t, expr), s)
			}
			local, _ := s.Next(ref.In(tokyo))
			assert.Equal(t, first, local)
			assert.Equal(t, time.UTC, local.Location())
		})
	}

	s := mustParse(t, "cron(0 10 * * ? *)")
	fire := utc("2025-03-01T10:00:00Z")
	got, _ := s.Next(fire.Add(-time.Nanosecond))
	assert.Equal(t, fire, got, "just before a fire time")
	got, _ = s.Next(fire)
	assert.Equal(t, fire.Add(24*time.Hour), got, "strictly after")
	got, _ = s.Next(fire.Add(time.Nanosecond))
	assert.Equal(t, fire.Add(24*time.Hour), got, "just after")
}

// SSM's years run 1970-2199: nothing fires outside them.
func TestYearLimits(t *testing.T) {
	s := mustParse(t, "cron(0 0 1 1 ? *)")
	got, ok := s.Next(time.Time{})
	require.True(t, ok)
	assert.Equal(t, utc("1970-01-01T00:00:00Z"), got)

	got, ok = s.Next(utc("2199-01-01T00:00:00Z"))
	assert.False(t, ok, "got %s", got)
	_, ok = s.Next(utc("2300-01-01T00:00:00Z"))
	assert.False(t, ok)

	last := mustParse(t, "cron(59 23 31 12 ? 2199)")
	got, ok = last.Next(ref)
	require.True(t, ok)
	assert.Equal(t, utc("2199-12-31T23:59:00Z"), got)
	_, ok = last.Next(got)
	assert.False(t, ok)

	// Sparse expressions that run out say so: gronx gives up on each
	// year, and the search moves on only through the allowed years.
	// (BenchmarkNextSparse measures how long that takes.)
	for _, expr := range []string{"cron(0 0 29 2 ? 2096-2199)", "cron(0 0 ? 2 2#5 2100-2199)", "cron(0 0 29 2 ? 1972-2199/8)"} {
		never := mustParse(t, expr)
		got, ok = never.Next(utc("2196-02-29T00:00:00Z"))
		assert.False(t, ok, "%s: got %s", expr, got)
	}
}

func BenchmarkNextSparse(b *testing.B) {
	never, err := Parse("cron(0 0 29 2 ? 2096-2199)")
	if err != nil {
		b.Fatal(err)
	}
	from := time.Date(2196, 2, 29, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		never.Next(from)
	}
}
