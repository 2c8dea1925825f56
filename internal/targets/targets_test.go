package targets

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		want    Target
		wantErr string
	}{
		{in: "Key=tag:role,Values=web,db", want: Target{Key: "tag:role", Values: []string{"web", "db"}}},
		{in: "Key=InstanceIds,Values=*", want: Target{Key: "InstanceIds", Values: []string{"*"}}},
		{in: "Key=InstanceIds,Values=web-1", want: Target{Key: "InstanceIds", Values: []string{"web-1"}}},
		{in: "Key=role,Values=web", wantErr: `key "role": want tag:NAME or InstanceIds`},
		{in: "Key=tag:role", wantErr: "missing ,Values="},
		{in: "tag:role=web", wantErr: "want Key=tag:NAME"},
		{in: "Key=tag:role,Values=", wantErr: "no values"},
		{in: "Key=InstanceIds,Values=*,web-1", wantErr: "cannot be combined"},
		{in: "Key=tag:role,Values=it's", wantErr: "value \"it's\""},
		{in: "Key=InstanceIds,Values=a b", wantErr: "node id"},
		{in: "Key=tag:g,Values=g0,,=,", wantErr: "tag:g: an empty value (two commas in a row?)"},
		{in: "Key=tag:g,Values=g0,=", wantErr: `tag:g value "=": a value cannot start with '='`},
		{in: "Key=tag:g,Values=a=b", want: Target{Key: "tag:g", Values: []string{"a=b"}}},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := Parse(c.in)
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

func TestNodeQuery(t *testing.T) {
	q, err := NodeQuery([]Target{{Key: "tag:role", Values: []string{"web", "db"}}, {Key: "tag:env", Values: []string{"prod"}}, {Key: "InstanceIds", Values: []string{"*"}}})
	require.NoError(t, err)
	require.Equal(t, "WorkflowType = 'NodeWorkflow' AND ExecutionStatus = 'Running' AND SteadNodeId IS NOT NULL AND SteadTags IN ('role=web', 'role=db') AND SteadTags IN ('env=prod')", q)
	q, err = NodeQuery([]Target{{Key: "InstanceIds", Values: []string{"a", "b"}}})
	require.NoError(t, err)
	require.Contains(t, q, "SteadNodeId IN ('a', 'b')")
}

func TestMatch(t *testing.T) {
	tags := map[string]string{"role": "web", "env": "prod"}
	web := Target{Key: "tag:role", Values: []string{"db", "web"}}
	prod := Target{Key: "tag:env", Values: []string{"prod"}}
	dev := Target{Key: "tag:env", Values: []string{"dev"}}
	require.True(t, Match("n1", tags, []Target{web, prod}))
	require.False(t, Match("n1", tags, []Target{web, dev}))
	require.True(t, Match("n1", nil, []Target{{Key: "InstanceIds", Values: []string{"*"}}}))
	require.True(t, Match("n1", nil, []Target{{Key: "InstanceIds", Values: []string{"n0", "n1"}}}))
	require.False(t, Match("n2", nil, []Target{{Key: "InstanceIds", Values: []string{"n1"}}}))
	require.False(t, Match("n1", tags, nil))
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"Key=tag:role,Values=web,db", "Key=InstanceIds,Values=*", "Key=InstanceIds,Values=a,b", "Key=tag:a b,Values=c'd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := Parse(s)
		if err != nil {
			return
		}
		// Whatever parses re-parses to itself and yields a query free of quotes
		// other than the ones it adds.
		again, err := Parse(tg.String())
		require.NoError(t, err)
		require.Equal(t, tg, again)
		q, err := NodeQuery([]Target{tg})
		require.NoError(t, err)
		for _, v := range tg.Values {
			require.NotContains(t, v, "'")
		}
		require.NotEmpty(t, q)
	})
}
