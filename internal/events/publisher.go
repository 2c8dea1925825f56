package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Sink is somewhere events go.
type Sink interface {
	// Name identifies the sink in logs, metrics and the failed list,
	// without secrets.
	Name() string
	// Send delivers one event, encoded as body. An error means it may
	// not have arrived; Send is then called again with the same event.
	Send(ctx context.Context, ev Event, body []byte) error
}

// Observer counts deliveries, for metrics. Either func may be nil.
type Observer struct {
	Delivered func(sink string)
	Failed    func(sink string)
}

// Publisher sends events to every sink, each sink's in the order given,
// retrying a failed send with backoff. It never returns an error: an event
// a sink refuses after every attempt goes to Failed. A nil *Publisher
// publishes nothing.
type Publisher struct {
	Sinks []Sink
	// Failed keeps the events no attempt delivered; nil logs them only.
	Failed *FailedStore
	// Region and Account fill the events that do not name their own.
	Region, Account string
	// Attempts is how often one event is sent to a sink before it is
	// given up (default 4); Backoff the first wait between attempts,
	// doubled each time (default 500 ms).
	Attempts int
	Backoff  time.Duration
	Logger   *slog.Logger
	Observer Observer

	// state orders publishing per sink, so events of one call stay in
	// order, and remembers which sinks are down.
	state sync.Map // sink name -> *sinkState
}

// sinkState is what a Publisher knows of one sink.
type sinkState struct {
	sync.Mutex
	// down: the sink's last event was given up. Until one gets through,
	// each event is tried once, so a dead sink costs one request per event
	// instead of a backoff each.
	down bool
}

// Publish delivers evs to every sink and returns when each event has
// been delivered or given up. Sinks are sent to in parallel, each in the
// order of evs.
func (p *Publisher) Publish(ctx context.Context, evs ...Event) {
	if p == nil || len(p.Sinks) == 0 || len(evs) == 0 {
		return
	}
	bodies := make([][]byte, len(evs))
	for i := range evs {
		if evs[i].Region == "" {
			evs[i].Region = p.Region
		}
		if evs[i].Account == "" {
			evs[i].Account = p.Account
		}
		b, err := json.Marshal(evs[i])
		if err != nil {
			p.logger().Error("encode event", "id", evs[i].ID, "error", err)
			return
		}
		bodies[i] = b
	}
	var wg sync.WaitGroup
	for _, s := range p.Sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, _ := p.state.LoadOrStore(s.Name(), &sinkState{})
			st := v.(*sinkState)
			st.Lock()
			defer st.Unlock()
			for i := range evs {
				st.down = !p.deliver(ctx, s, evs[i], bodies[i], st.down)
			}
		}()
	}
	wg.Wait()
}

// deliver sends one event to one sink, with retries unless the sink is
// down, and keeps it as failed when no attempt succeeds. It reports
// whether the event got through.
func (p *Publisher) deliver(ctx context.Context, s Sink, ev Event, body []byte, down bool) bool {
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	if down {
		attempts = 1
	}
	wait := p.Backoff
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	var err error
	for a := 1; a <= attempts; a++ {
		if err = s.Send(ctx, ev, body); err == nil {
			if p.Observer.Delivered != nil {
				p.Observer.Delivered(s.Name())
			}
			return true
		}
		if a == attempts || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
	}
	if p.Observer.Failed != nil {
		p.Observer.Failed(s.Name())
	}
	p.logger().Warn("event not delivered", "sink", s.Name(), "id", ev.ID, "detailType", ev.DetailType, "error", err)
	if p.Failed != nil {
		if ferr := p.Failed.Add(Failure{Sink: s.Name(), Error: err.Error(), At: time.Now().UTC(), Event: ev}); ferr != nil {
			p.logger().Error("keep undeliverable event", "id", ev.ID, "error", ferr)
		}
	}
	return false
}

func (p *Publisher) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

// String names the sinks, for a start-up log line.
func (p *Publisher) String() string {
	if p == nil || len(p.Sinks) == 0 {
		return "none"
	}
	names := make([]string, len(p.Sinks))
	for i, k := range p.Sinks {
		names[i] = k.Name()
	}
	return strings.Join(names, ", ")
}
