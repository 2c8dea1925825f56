package posix_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/runner/posix"
	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/transport"
)

// openConnection starts a real sshd and returns a connection to it, and a
// prefix that keeps the run ids of this sshd's runs apart from others.
func openConnection(b *testing.B) (transport.Communicator, string) {
	srv := testsshd.Start(b)
	c, err := srv.Dialer(b).Dial(context.Background(), srv.Target("127.0.0.1"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c, fmt.Sprintf("bench-%d", srv.Port)
}

// BenchmarkRunTrue measures a whole `true` step on an open connection: the
// per-host cost of a fan-out once the connection exists.
func BenchmarkRunTrue(b *testing.B) {
	c, prefix := openConnection(b)
	for i := 0; b.Loop(); i++ {
		res, err := posix.Runner{}.Run(context.Background(), c, runner.Spec{RunID: fmt.Sprintf("%s-%d", prefix, i), Script: "true"}, nil)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("run: %v, exit %d", err, res.ExitCode)
		}
	}
}

// BenchmarkSequenceTrue20 measures 20 steps of `true` in one session on an
// open connection: a document's per-step cost on one node, which the
// 20-step case of `make bench` pays on every host.
func BenchmarkSequenceTrue20(b *testing.B) {
	c, prefix := openConnection(b)
	for i := 0; b.Loop(); i++ {
		steps := make([]runner.SequenceStep, 20)
		for k := range steps {
			steps[k] = runner.SequenceStep{Spec: runner.Spec{RunID: fmt.Sprintf("%s-seq-%d-%d", prefix, i, k), Script: "true"}, Continue: true}
		}
		res, err := posix.Runner{}.RunSequence(context.Background(), c, steps, nil, nil)
		if err != nil || len(res) != len(steps) {
			b.Fatalf("run: %v, %d results", err, len(res))
		}
	}
}
