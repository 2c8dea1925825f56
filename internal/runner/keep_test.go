package runner_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/runner"
)

func TestKeepCutsAtCharacterBoundary(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		limit     int
		total     int64
		want      string
		truncated bool
	}{
		{name: "fits", in: "abc", limit: 10, total: 3, want: "abc"},
		{name: "ascii cut", in: "abcdef", limit: 4, total: 6, want: "abcd", truncated: true},
		{name: "cut inside two-byte char", in: "aé", limit: 2, total: 3, want: "a", truncated: true},
		{name: "cut inside four-byte char", in: "a😀", limit: 4, total: 5, want: "a", truncated: true},
		{name: "cut after whole char", in: "aéb", limit: 3, total: 4, want: "aé", truncated: true},
		{name: "stream grew after measuring", in: "ab", limit: 2, total: 2, want: "ab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, truncated := runner.Keep([]byte(tc.in), tc.limit, tc.total)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.truncated, truncated)
		})
	}
}
