package transport_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/transport"
)

// countingDialer counts the connections it opens.
type countingDialer struct {
	transport.Dialer
	dials atomic.Int32
}

func (d *countingDialer) Dial(ctx context.Context, t transport.Target) (transport.Communicator, error) {
	d.dials.Add(1)
	return d.Dialer.Dial(ctx, t)
}

// sshPID returns the pid of the server process serving c's connection.
func sshPID(t *testing.T, c transport.Communicator) string {
	t.Helper()
	_, out, _ := run(t, c, "echo $PPID", "")
	return strings.TrimSpace(out)
}

func TestPoolReusesConnections(t *testing.T) {
	srv := testsshd.Start(t)
	d := &countingDialer{Dialer: transport.NewDialer(srv.Dialer(t))}
	p := transport.NewPool(d, time.Minute)
	defer p.Close()
	target := srv.Target("127.0.0.1")

	first, err := p.Get(context.Background(), target)
	require.NoError(t, err)
	pid := sshPID(t, first)
	require.NoError(t, first.Close())
	require.NoError(t, first.Close(), "closing twice is harmless")

	second, err := p.Get(context.Background(), target)
	require.NoError(t, err)
	require.Equal(t, pid, sshPID(t, second), "the second Get reuses the connection")
	require.Equal(t, int32(1), d.dials.Load())

	other := srv.Target("127.0.0.2")
	third, err := p.Get(context.Background(), other)
	require.NoError(t, err)
	require.Equal(t, int32(2), d.dials.Load(), "another host gets its own connection")
	require.NoError(t, third.Close())
	require.NoError(t, second.Close())
}

func TestPoolRedialsKilledConnections(t *testing.T) {
	srv := testsshd.Start(t)
	d := &countingDialer{Dialer: transport.NewDialer(srv.Dialer(t))}
	p := transport.NewPool(d, time.Minute)
	defer p.Close()
	target := srv.Target("127.0.0.1")

	t.Run("dies while idle", func(t *testing.T) {
		before := d.dials.Load()
		c, err := p.Get(context.Background(), target)
		require.NoError(t, err)
		// Kill the server side of the connection shortly after this command ends.
		run(t, c, `p=$PPID; (sleep 0.2; kill -9 "$p") >/dev/null 2>&1 &`, "")
		require.NoError(t, c.Close())
		time.Sleep(time.Second)

		c, err = p.Get(context.Background(), target)
		require.NoError(t, err)
		code, out, _ := run(t, c, "echo alive", "")
		require.Equal(t, 0, code)
		require.Equal(t, "alive\n", out)
		require.NoError(t, c.Close())
		require.Equal(t, before+2, d.dials.Load())
	})
	t.Run("dies just before reuse", func(t *testing.T) {
		c, err := p.Get(context.Background(), target)
		require.NoError(t, err)
		pid := sshPID(t, c)
		require.NoError(t, c.Close())
		killer, err := srv.Dialer(t).Dial(context.Background(), target)
		require.NoError(t, err)
		defer killer.Close()
		before := d.dials.Load()
		run(t, killer, "kill -9 "+pid, "")

		// Whether the pool notices before lending it or when the session
		// fails to open, the command runs once on a new connection.
		c, err = p.Get(context.Background(), target)
		require.NoError(t, err)
		code, out, _ := run(t, c, "echo again", "")
		require.Equal(t, 0, code)
		require.Equal(t, "again\n", out)
		require.NoError(t, c.Close())
		require.Equal(t, before+1, d.dials.Load())
	})
	t.Run("dies during a command", func(t *testing.T) {
		c, err := p.Get(context.Background(), target)
		require.NoError(t, err)
		_, err = c.Run(context.Background(), "kill -9 $PPID; sleep 5", nil, nil, nil)
		require.Error(t, err)
		require.NoError(t, c.Close())

		before := d.dials.Load()
		c, err = p.Get(context.Background(), target)
		require.NoError(t, err)
		code, _, _ := run(t, c, "true", "")
		require.Equal(t, 0, code)
		require.NoError(t, c.Close())
		require.Equal(t, before+1, d.dials.Load())
	})
}

func TestPoolClosesIdleConnections(t *testing.T) {
	srv := testsshd.Start(t)
	d := &countingDialer{Dialer: transport.NewDialer(srv.Dialer(t))}
	p := transport.NewPool(d, 100*time.Millisecond)
	defer p.Close()
	target := srv.Target("127.0.0.1")

	c, err := p.Get(context.Background(), target)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	time.Sleep(400 * time.Millisecond)
	c, err = p.Get(context.Background(), target)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.Equal(t, int32(2), d.dials.Load())
}

func TestPoolConcurrentUse(t *testing.T) {
	srv := testsshd.Start(t)
	d := &countingDialer{Dialer: transport.NewDialer(srv.Dialer(t))}
	p := transport.NewPool(d, time.Minute)
	hosts := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			target := srv.Target(hosts[i%len(hosts)])
			for range 5 {
				c, err := p.Get(context.Background(), target)
				if !assertNoError(t, err) {
					return
				}
				_, err = c.Run(context.Background(), "true", nil, nil, nil)
				assertNoError(t, err)
				assertNoError(t, c.Close())
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, d.dials.Load(), int32(30))
	require.NoError(t, p.Close())
	_, err := p.Get(context.Background(), srv.Target("127.0.0.1"))
	require.Error(t, err, "a closed pool lends nothing")
}

// assertNoError reports err without stopping the goroutine's test.
func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}
