package transport_test

import (
	"context"
	"os/user"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/transport"
)

func TestLocal(t *testing.T) {
	me, err := user.Current()
	require.NoError(t, err)
	for _, u := range []string{"", me.Username} {
		t.Run("user "+u, func(t *testing.T) {
			c, err := transport.NewDialer(nil).Dial(context.Background(), transport.Target{NodeID: "worker", Kind: transport.KindLocal, User: u})
			require.NoError(t, err)
			defer c.Close()
			tests := []struct {
				name, cmd, stdin string
				code             int
				stdout, stderr   string
			}{
				{name: "stdout", cmd: "id -un", stdout: me.Username + "\n"},
				{name: "exit code and stderr", cmd: "echo no >&2; exit 4", code: 4, stderr: "no\n"},
				{name: "stdin", cmd: "cat", stdin: "in\n", stdout: "in\n"},
				{name: "signal", cmd: "kill -TERM $$", code: 143},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					code, out, errOut := run(t, c, tc.cmd, tc.stdin)
					require.Equal(t, tc.code, code)
					require.Equal(t, tc.stdout, out)
					require.Equal(t, tc.stderr, errOut)
				})
			}
		})
	}
}

func TestLocalCancelKillsProcessGroup(t *testing.T) {
	c, err := transport.LocalDialer{}.Dial(context.Background(), transport.Target{Kind: transport.KindLocal})
	require.NoError(t, err)
	pidFile := t.TempDir() + "/pid"
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = c.Run(ctx, "sleep 30 & echo $! > "+pidFile+"; wait", nil, nil, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// A zombie counts as gone: this host's init may not reap orphans.
	code, _, _ := run(t, c, `case "$(ps -o stat= -p "$(cat `+pidFile+`)")" in ""|Z*) exit 1;; esac`, "")
	require.Equal(t, 1, code, "the background sleep died with its group")
}
