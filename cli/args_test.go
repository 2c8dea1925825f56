package cli

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFlagsFirst(t *testing.T) {
	app := New(io.Discard, io.Discard)
	cases := []struct {
		in, want []string
	}{
		{[]string{"stead", "node", "describe", "web-1", "--output", "json"}, []string{"stead", "node", "describe", "--output", "json", "web-1"}},
		{[]string{"stead", "association", "start", "a", "--wait"}, []string{"stead", "association", "start", "--wait", "a"}},
		{[]string{"stead", "assoc", "targets", "a", "--execution=x", "-o", "json"}, []string{"stead", "assoc", "targets", "--execution=x", "-o", "json", "a"}},
		{[]string{"stead", "node", "describe", "--", "-odd"}, []string{"stead", "node", "describe", "--", "-odd"}},
		{[]string{"stead", "node"}, []string{"stead", "node"}},
		{[]string{"stead", "--help"}, []string{"stead", "--help"}},
		{[]string{"stead", "unknown", "x", "--y"}, []string{"stead", "unknown", "x", "--y"}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, flagsFirst(app, c.in), "%v", c.in)
	}
}
