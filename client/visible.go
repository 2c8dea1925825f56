package client

import (
	"context"
	"time"
)

// visibleWithin bounds how long an operation waits for visibility (node
// listings and targeting, document and association lists) to show its
// change: the server updates visibility asynchronously.
const visibleWithin = 10 * time.Second

// awaitVisible asks seen until it reports that a listing shows the
// change, or returns the error timedOut makes once within has passed. It
// polls, backing off from 50 ms to a second, because visibility has no
// way to wait for a change. An error from seen ends the wait, unless
// retry says to ask again.
func awaitVisible(ctx context.Context, within time.Duration, seen func(context.Context) (bool, error), retry func(error) bool, timedOut func(last error) error) error {
	deadline := time.Now().Add(within)
	wait := 50 * time.Millisecond
	for {
		ok, err := seen(ctx)
		if err != nil && (retry == nil || !retry(err)) {
			return err
		}
		if ok && err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return timedOut(err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}
