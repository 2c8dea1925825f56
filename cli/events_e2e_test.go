package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/cli"
	"github.com/stead-io/stead/internal/events"
	"github.com/stead-io/stead/internal/testnats"
	"github.com/stead-io/stead/internal/testsshd"
)

// webhookReceiver is an HTTP endpoint that checks each event's signature
// and keeps every delivery, duplicates included.
type webhookReceiver struct {
	secret []byte
	mu     sync.Mutex
	got    []events.Event
	bad    []string
}

func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := events.Verify(r.secret, req.Header.Get(events.SignatureHeader), body, 5*time.Minute, time.Now()); err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev events.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.got = append(r.got, ev)
}

// unique de-duplicates events by id, as a receiver does.
func unique(evs []events.Event) map[string]events.Event {
	out := map[string]events.Event{}
	for _, e := range evs {
		out[e.ID] = e
	}
	return out
}

// change is what an event reports, to compare runs without their ids.
func change(e events.Event) string {
	return e.DetailType + " " + e.Detail.NodeID + " " + e.Detail.Status + e.Detail.ComplianceStatus
}

// A real run's events reach a signed webhook, NATS JetStream and a file,
// each once after de-duplication; a webhook that refuses everything keeps
// its events in the failed list and fails nothing.
func TestEventsOfARun(t *testing.T) {
	sshd := testsshd.Start(t)
	h := &harness{t: t, sshd: sshd, tag: "events-run", outputDir: t.TempDir()}
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("webhook-secret\n"), 0o600))
	rcv := &webhookReceiver{secret: []byte("webhook-secret")}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	natsURL := testnats.Start(t)
	eventFile, eventsDir := filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "events")

	stop := startWorkerCommand(t, sshd, "--output-dir", h.outputDir, "--event-webhook", hook.URL+"/events", "--event-webhook", down.URL,
		"--event-webhook-secret-file", secretFile, "--event-file", eventFile, "--event-nats", natsURL, "--events-dir", eventsDir)
	defer stop()

	h.register("ev-1", 81)
	h.register("ev-2", 82)
	out := ok(t, "association", "create", "--name", "events-run", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:role,Values=events-run", "--parameters", `{"commands":["echo hi"]}`, "--wait")
	id := execID(t, out)

	want := []string{
		events.DetailNode + " ev-1 Registered", events.DetailNode + " ev-2 Registered",
		events.DetailExecution + "  InProgress", events.DetailExecution + "  Success", events.DetailAssociation + "  Success",
		events.DetailNodeAssociation + " ev-1 InProgress", events.DetailNodeAssociation + " ev-1 Success",
		events.DetailNodeAssociation + " ev-2 InProgress", events.DetailNodeAssociation + " ev-2 Success",
		events.DetailCompliance + " ev-1 COMPLIANT", events.DetailCompliance + " ev-2 COMPLIANT",
	}
	// The worker takes any work of the shared task queue: keep the events
	// of this run and its nodes.
	mine := func(evs []events.Event) []events.Event {
		var out []events.Event
		for _, e := range evs {
			if e.Detail.ExecutionID == id || e.DetailType == events.DetailNode && strings.HasPrefix(e.Detail.NodeID, "ev-") {
				out = append(out, e)
			}
		}
		return out
	}
	changes := func(evs map[string]events.Event) []string {
		var out []string
		for _, e := range evs {
			out = append(out, change(e))
		}
		return out
	}
	var hooked map[string]events.Event
	require.Eventually(t, func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		hooked = unique(mine(rcv.got))
		return len(hooked) >= len(want)
	}, time.Minute, 200*time.Millisecond)
	rcv.mu.Lock()
	require.Empty(t, rcv.bad, "every signature is valid")
	rcv.mu.Unlock()
	require.ElementsMatch(t, want, changes(hooked), "every event of the run, once after de-duplication")
	for _, e := range hooked {
		require.Equal(t, events.Source, e.Source)
		require.Equal(t, "default", e.Account)
		require.Equal(t, "default", e.Region)
		require.NotEmpty(t, e.Resources)
		if e.DetailType != events.DetailNode {
			require.Equal(t, id, e.Detail.ExecutionID, change(e))
			require.Equal(t, "events-run", e.Detail.AssociationName)
			require.Equal(t, "Stead-RunShellScript", e.Detail.DocumentName)
		}
	}

	// NATS JetStream holds the same events, de-duplicated by their ids.
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := js.Stream(context.Background(), events.StreamName)
	require.NoError(t, err)
	info, err := stream.Info(context.Background())
	require.NoError(t, err)
	cons, err := stream.OrderedConsumer(context.Background(), jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	var streamed []events.Event
	for uint64(len(streamed)) < info.State.Msgs {
		batch, err := cons.Fetch(int(info.State.Msgs)-len(streamed), jetstream.FetchMaxWait(10*time.Second))
		require.NoError(t, err)
		n := len(streamed)
		for m := range batch.Messages() {
			var e events.Event
			require.NoError(t, json.Unmarshal(m.Data(), &e))
			streamed = append(streamed, e)
		}
		require.NoError(t, batch.Error())
		require.Greater(t, len(streamed), n, "the stream holds %d events, read %d", info.State.Msgs, n)
	}
	require.Len(t, mine(streamed), len(want), "JetStream dropped the duplicates")
	require.ElementsMatch(t, keys(hooked), keys(unique(mine(streamed))))

	// The file has one JSON line per delivery.
	b, err := os.ReadFile(eventFile)
	require.NoError(t, err)
	var filed []events.Event
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var e events.Event
		require.NoError(t, json.Unmarshal(line, &e))
		filed = append(filed, e)
	}
	require.ElementsMatch(t, keys(hooked), keys(unique(mine(filed))))

	// The refusing webhook failed nothing; its events are listed.
	var failed []events.Failure
	require.NoError(t, json.Unmarshal([]byte(ok(t, "events", "failed", "--events-dir", eventsDir, "--output", "json")), &failed))
	var lost []events.Event
	for _, f := range failed {
		require.Equal(t, "webhook "+down.URL, f.Sink)
		require.Contains(t, f.Error, "503")
		lost = append(lost, f.Event)
	}
	require.ElementsMatch(t, keys(hooked), keys(unique(mine(lost))))
	require.Contains(t, ok(t, "events", "failed", "--events-dir", eventsDir), events.DetailCompliance)
	ok(t, "association", "delete", "events-run")
}

func keys(m map[string]events.Event) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// startWorkerCommand runs `stead worker` in-process, reaching sshd's hosts,
// with more flags, until stop is called; stop requires that it exited
// cleanly.
func startWorkerCommand(t *testing.T, sshd *testsshd.Server, flags ...string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var werr bytes.Buffer
	args := append([]string{"stead", "worker", "--credential", "default=" + sshd.KeyFile, "--log-level", "error"}, flags...)
	if !slices.Contains(flags, "--events-dir") {
		args = append(args, "--events-dir", t.TempDir())
	}
	go func() {
		done <- cli.Run(ctx, args, io.Discard, &werr)
	}()
	return func() {
		cancel()
		require.Equal(t, 0, <-done, werr.String())
	}
}

// events resend delivers the kept events to the sinks given, stops keeping
// those delivered, and keeps (and says so) those of sinks not given.
func TestEventsResend(t *testing.T) {
	dir := t.TempDir()
	eventsDir, eventFile := filepath.Join(dir, "events"), filepath.Join(dir, "events.jsonl")
	store, err := events.OpenFailed(eventsDir)
	require.NoError(t, err)
	ev := events.New(events.DetailNode, time.Now(), []string{"resend-1"}, []string{"node/resend-1"}, events.Detail{NodeID: "resend-1", Status: "Registered"})
	require.NoError(t, store.Add(events.Failure{Sink: (&events.File{Path: eventFile}).Name(), Error: "disk full", At: time.Now(), Event: ev}))
	require.NoError(t, store.Add(events.Failure{Sink: "webhook https://gone.example/", Error: "503", At: time.Now(), Event: ev}))

	fails(t, "no sink given", "events", "resend", "--events-dir", eventsDir)
	require.Contains(t, ok(t, "events", "resend", "--events-dir", eventsDir, "--event-file", eventFile), "1 delivered, 0 refused again, 1 of sinks not given; 1 kept")
	b, err := os.ReadFile(eventFile)
	require.NoError(t, err)
	var got events.Event
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(b), &got))
	require.Equal(t, ev.ID, got.ID)
	var kept []events.Failure
	require.NoError(t, json.Unmarshal([]byte(ok(t, "events", "failed", "--events-dir", eventsDir, "--output", "json")), &kept))
	require.Len(t, kept, 1)
	require.Equal(t, "webhook https://gone.example/", kept[0].Sink)
}
