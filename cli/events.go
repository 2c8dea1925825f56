package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/internal/events"
)

// defaultEventsDir is where `stead worker` keeps the events its sinks
// refused, and where `stead events failed` reads them: `stead dev`'s
// default (<data-dir>/events with data-dir .stead).
const defaultEventsDir = ".stead/events"

// eventFlags choose where a worker sends state-change events.
func eventFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringSliceFlag{Name: "event-webhook", Usage: "POST every state-change event as JSON to this http(s) URL (repeatable)"},
		&ucli.StringFlag{Name: "event-webhook-secret-file", Usage: "file holding the secret that signs webhook bodies (header Stead-Signature: t=<unix>,v1=<hex HMAC-SHA256 of \"t.body\">)"},
		&ucli.StringFlag{Name: "event-file", Usage: "append every state-change event as one JSON line to this file"},
		&ucli.StringFlag{Name: "event-nats", Usage: "publish every state-change event to NATS JetStream at this URL (nats://host:4222)"},
		&ucli.StringFlag{Name: "event-subject", Usage: "the JetStream subject of --event-nats; a stream STEAD_EVENTS is created for it if none captures it", Value: "stead.events"},
		&ucli.StringFlag{Name: "events-dir", Usage: "where events no sink took are kept (the newest 1,000), for stead events failed", Value: defaultEventsDir},
	}
}

// eventsDir is the worker's events directory: --events-dir if given, else
// <data-dir>/events on `stead dev`, else defaultEventsDir.
func eventsDir(c *ucli.Context) string { return workerDir(c, "events-dir", "events") }

// newPublisher builds the worker's event sinks from its flags; it returns
// nil when none is configured. close releases the sinks' connections.
func newPublisher(c *ucli.Context, logger *slog.Logger, region, namespace string) (p *events.Publisher, close func(), err error) {
	sinks, close, err := newSinks(c)
	if err != nil || len(sinks) == 0 {
		return nil, close, err
	}
	failed, err := events.OpenFailed(eventsDir(c))
	if err != nil {
		close()
		return nil, nil, err
	}
	p = &events.Publisher{Sinks: sinks, Failed: failed, Region: regionOrDefault(region), Account: namespace, Logger: logger}
	logger.Info("events", "sinks", p.String(), "failed", eventsDir(c))
	return p, close, nil
}

// newSinks builds the event sinks the flags of eventFlags name. close
// releases their connections.
func newSinks(c *ucli.Context) (sinks []events.Sink, close func(), err error) {
	var nc *events.NATS
	var secret []byte
	if f := c.String("event-webhook-secret-file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("read event webhook secret: %w", err)
		}
		if secret = []byte(strings.TrimSpace(string(b))); len(secret) == 0 {
			return nil, nil, fmt.Errorf("event webhook secret file %s is empty", f)
		}
		if len(c.StringSlice("event-webhook")) == 0 {
			return nil, nil, errors.New("event-webhook-secret-file: no --event-webhook to sign for")
		}
	}
	for _, u := range c.StringSlice("event-webhook") {
		w, err := events.NewWebhook(u, secret)
		if err != nil {
			return nil, nil, err
		}
		sinks = append(sinks, w)
	}
	if f := c.String("event-file"); f != "" {
		sinks = append(sinks, &events.File{Path: f})
	}
	if u := c.String("event-nats"); u != "" {
		if nc, err = events.NewNATS(u, c.String("event-subject")); err != nil {
			return nil, nil, err
		}
		sinks = append(sinks, nc)
	}
	return sinks, func() {
		if nc != nil {
			nc.Close()
		}
	}, nil
}

func eventsCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "events",
		Usage: "state-change events",
		Subcommands: []*ucli.Command{{
			Name:  "failed",
			Usage: "list the events a worker's sinks did not take after every retry (the newest 1,000), from its events directory",
			Flags: []ucli.Flag{
				&ucli.StringFlag{Name: "events-dir", Usage: "the worker's --events-dir", Value: defaultEventsDir},
				outputFlag,
			},
			Action: func(c *ucli.Context) error {
				p, err := newPrinter(c)
				if err != nil {
					return err
				}
				failed, err := events.ReadFailed(c.String("events-dir"))
				if err != nil {
					return err
				}
				if p.json {
					return p.value(failed)
				}
				rows := make([][]string, len(failed))
				for i, f := range failed {
					rows[i] = []string{when(f.At), f.Sink, f.Event.DetailType, f.Event.ID, f.Event.Detail.Status, f.Error}
				}
				return p.table([]string{"FAILED AT", "SINK", "DETAIL TYPE", "ID", "STATUS", "ERROR"}, rows)
			},
		}, {
			Name: "resend",
			Usage: "deliver the kept events again, each to the sink that refused it, and stop keeping those delivered; " +
				"give the sink flags the worker runs with (events of sinks not given stay kept)",
			Flags:  eventFlags(),
			Action: eventsResend,
		}},
	}
}

func eventsResend(c *ucli.Context) error {
	sinks, close, err := newSinks(c)
	if err != nil {
		return err
	}
	defer close()
	if len(sinks) == 0 {
		return errors.New("events resend: no sink given (--event-webhook, --event-file, --event-nats, as the worker runs with)")
	}
	failed, err := events.OpenFailed(eventsDir(c))
	if err != nil {
		return err
	}
	res, err := failed.Resend(c.Context, sinks)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%d delivered, %d refused again, %d of sinks not given; %d kept\n", res.Delivered, res.Failed, res.NoSink, res.Failed+res.NoSink)
	if res.Failed > 0 {
		return fmt.Errorf("events resend: %d events refused again (stead events failed lists them)", res.Failed)
	}
	return nil
}

// eventSink is p as the activities' publisher: no publisher at all when p
// is nil, so the activities see that no sink is configured.
func eventSink(p *events.Publisher) activities.EventPublisher {
	if p == nil {
		return nil
	}
	return p
}
