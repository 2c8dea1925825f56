package transport_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/transport"
)

func TestFetchHostKey(t *testing.T) {
	srv := testsshd.Start(t)
	ctx := context.Background()
	cases := []struct {
		name    string
		pinned  string
		address string
	}{
		{name: "nothing pinned", address: "127.0.0.3"},
		{name: "the same key pinned", pinned: srv.HostKey, address: "127.0.0.1"},
		{name: "another ed25519 key pinned", pinned: newPublicKey(t, "ed25519"), address: "127.0.0.1"},
		// The host has no ecdsa key: it is asked for any key instead.
		{name: "a key of a type the host lacks pinned", pinned: newPublicKey(t, "ecdsa"), address: "127.0.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := srv.Target(c.address)
			target.HostKey = c.pinned
			target.Credential = "none-needed"
			got, err := transport.FetchHostKey(ctx, target, 5*time.Second)
			require.NoError(t, err)
			require.Equal(t, srv.HostKey, got)
		})
	}

	// A closed port is unreachable, not a key problem.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	_, err = transport.FetchHostKey(ctx, transport.Target{NodeID: "gone", Address: "127.0.0.1", Port: port}, time.Second)
	require.Equal(t, transport.Unreachable, kindOf(t, err))

	// Something that is not sshd.
	l, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
			_ = c.Close()
		}
	}()
	_, err = transport.FetchHostKey(ctx, transport.Target{NodeID: "web", Address: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port}, time.Second)
	require.Equal(t, transport.Unreachable, kindOf(t, err))

	_, err = transport.FetchHostKey(ctx, transport.Target{NodeID: "x"}, time.Second)
	require.Equal(t, transport.InvalidTarget, kindOf(t, err))
}
