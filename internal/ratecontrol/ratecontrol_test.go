package ratecontrol

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		min     int
		want    Value
		wantErr string
	}{
		{in: "10", min: 1, want: Value{N: 10}},
		{in: "25%", min: 1, want: Value{N: 25, Percent: true}},
		{in: "0", min: 0, want: Value{N: 0}},
		{in: "0", min: 1, wantErr: "want a number from 1"},
		{in: "0%", min: 1, wantErr: "want a percentage from 1%"},
		{in: "101%", min: 0, wantErr: "to 100%"},
		{in: "ten", min: 0, wantErr: "want a whole number"},
		{in: "-1", min: 0, wantErr: "want a whole number"},
		{in: "%", min: 0, wantErr: "want a whole number"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := Parse("max-concurrency", c.in, c.min)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
			require.Equal(t, c.in, got.String())
		})
	}
}

func TestResolve(t *testing.T) {
	require.Equal(t, 1, Value{N: 10, Percent: true}.Concurrency(5))
	require.Equal(t, 20, Value{N: 10, Percent: true}.Concurrency(200))
	require.Equal(t, 50, Value{N: 50}.Concurrency(3))
	require.Equal(t, 0, Value{N: 10, Percent: true}.ErrorLimit(9))
	require.Equal(t, 1, Value{N: 10, Percent: true}.ErrorLimit(10))
	require.Equal(t, 3, Value{N: 3}.ErrorLimit(1000))
}

func TestFromTextKeepsWhatIsNotANumber(t *testing.T) {
	require.Equal(t, Value{N: 10, Percent: true}, FromText("10%"))
	for _, s := range []string{"abc", "", "-1", "10%%"} {
		v := FromText(s)
		require.Equal(t, s, v.String())
		_, err := Parse("max-errors", v.String(), 0)
		require.EqualError(t, err, `max-errors "`+s+`": want a whole number or a percentage like 10%`)
	}
}

func TestJSON(t *testing.T) {
	cases := []struct {
		in   string
		want string // String of the decoded value
		out  string // its JSON
	}{
		{`{"n":3,"percent":false}`, "3", `{"n":3,"percent":false}`},
		{`{"n":25,"percent":true}`, "25%", `{"n":25,"percent":true}`},
		{`"10%"`, "10%", `{"n":10,"percent":true}`},
		{`7`, "7", `{"n":7,"percent":false}`},
		{`"abc"`, "abc", `"abc"`},
		{`true`, "true", `"true"`},
		{`{"n":"x"}`, `{"n":"x"}`, `"{\"n\":\"x\"}"`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			var v Value
			require.NoError(t, json.Unmarshal([]byte(c.in), &v))
			require.Equal(t, c.want, v.String())
			out, err := json.Marshal(v)
			require.NoError(t, err)
			require.JSONEq(t, c.out, string(out))
		})
	}
}
