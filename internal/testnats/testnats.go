// Package testnats runs a real NATS server with JetStream inside a test
// process (github.com/nats-io/nats-server/v2), so event delivery is tested
// against the server operators run, not a stand-in.
package testnats

import (
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Start runs a NATS server with JetStream on a free loopback port, its
// store in a temporary directory, until the test ends. It returns the
// client URL.
func Start(t testing.TB) string {
	t.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("start nats: not ready within 10s")
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}
