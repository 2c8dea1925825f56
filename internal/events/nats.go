package events

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamName is the JetStream stream Stead creates for its subject when no
// stream captures it yet. An operator's own stream, made beforehand, is
// used as it is.
const StreamName = "STEAD_EVENTS"

// NATS publishes each event to a JetStream subject, with the event's id as
// the message id, so JetStream drops the duplicates of a retried batch
// within the stream's duplicate window.
type NATS struct {
	URL, Subject string

	mu     sync.Mutex
	nc     *nats.Conn
	js     jetstream.JetStream
	stream bool
}

// NewNATS checks the URL and subject and makes the sink; it connects on
// the first event, and reconnects as long as the worker runs.
func NewNATS(rawURL, subject string) (*NATS, error) {
	if _, err := url.Parse(rawURL); err != nil || !strings.Contains(rawURL, "://") {
		return nil, fmt.Errorf("event nats %q: want a nats:// URL", rawURL)
	}
	if subject == "" || strings.ContainsAny(subject, " \t*>") {
		return nil, fmt.Errorf("event subject %q: want a subject without spaces or wildcards", subject)
	}
	return &NATS{URL: rawURL, Subject: subject}, nil
}

// Name names the server and subject, without credentials.
func (n *NATS) Name() string {
	u, err := url.Parse(n.URL)
	if err != nil {
		return "nats " + n.Subject
	}
	return "nats " + u.Host + " " + n.Subject
}

// Send publishes the event and waits for JetStream's acknowledgement.
func (n *NATS) Send(ctx context.Context, ev Event, body []byte) error {
	js, err := n.jetStream(ctx)
	if err != nil {
		return err
	}
	if _, err := js.Publish(ctx, n.Subject, body, jetstream.WithMsgID(ev.ID)); err != nil {
		return fmt.Errorf("publish event to %s: %w", n.Subject, err)
	}
	return nil
}

// jetStream connects, once, and makes sure a stream captures the subject.
func (n *NATS) jetStream(ctx context.Context) (jetstream.JetStream, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc == nil {
		nc, err := nats.Connect(n.URL, nats.Name("stead"), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("connect to nats: %w", err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("open jetstream: %w", err)
		}
		n.nc, n.js = nc, js
	}
	if !n.stream {
		_, err := n.js.StreamNameBySubject(ctx, n.Subject)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			_, err = n.js.CreateStream(ctx, jetstream.StreamConfig{Name: StreamName, Subjects: []string{n.Subject}})
		}
		if err != nil {
			return nil, fmt.Errorf("find a stream for %s: %w", n.Subject, err)
		}
		n.stream = true
	}
	return n.js, nil
}

// Close closes the connection.
func (n *NATS) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc != nil {
		n.nc.Close()
		n.nc = nil
	}
}
