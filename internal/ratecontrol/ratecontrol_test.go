package ratecontrol

import (
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
