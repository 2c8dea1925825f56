package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/events"
	"github.com/stead-io/stead/internal/testnats"
)

func sample(status string) events.Event {
	return events.New(events.DetailExecution, time.Unix(1700000000, 0), []string{"exec-1", status}, []string{"execution/a/exec-1"},
		events.Detail{AssociationName: "a", ExecutionID: "exec-1", Status: status})
}

func TestStableIDs(t *testing.T) {
	a, b := sample("Success"), sample("Success")
	require.Equal(t, a.ID, b.ID, "the same change has the same id")
	require.NotEqual(t, a.ID, sample("Failed").ID)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, a.ID)
	body, err := json.Marshal(a)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	for _, k := range []string{"version", "id", "detail-type", "source", "time", "region", "resources", "detail"} {
		require.Contains(t, m, k)
	}
}

func TestSignature(t *testing.T) {
	secret, body, at := []byte("s3cret"), []byte(`{"id":"x"}`), time.Unix(1700000000, 0)
	h := events.Sign(secret, at, body)
	require.Regexp(t, `^t=1700000000,v1=[0-9a-f]{64}$`, h)
	require.NoError(t, events.Verify(secret, h, body, time.Minute, at.Add(30*time.Second)))
	require.ErrorContains(t, events.Verify([]byte("other"), h, body, time.Minute, at), "no v1 signature matches")
	require.ErrorContains(t, events.Verify(secret, h, []byte(`{"id":"y"}`), time.Minute, at), "no v1 signature matches")
	require.ErrorContains(t, events.Verify(secret, h, body, time.Minute, at.Add(2*time.Minute)), "more than 1m0s")
	require.ErrorContains(t, events.Verify(secret, "v1=abc", body, time.Minute, at), "not t=<unix>,v1=<hex>")
}

// receiver is a webhook endpoint that fails its first failFirst requests.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	got       []events.Event
	headers   []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls <= r.failFirst {
		http.Error(w, "not now", http.StatusServiceUnavailable)
		return
	}
	var ev events.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := events.Verify([]byte("s3cret"), req.Header.Get(events.SignatureHeader), body, time.Minute, time.Now()); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.got = append(r.got, ev)
	r.headers = append(r.headers, req.Header.Get(events.IDHeader))
}

func TestWebhookRetriesAndKeepsWhatFails(t *testing.T) {
	rcv := &receiver{failFirst: 2}
	good := httptest.NewServer(rcv)
	defer good.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusInternalServerError) }))
	defer bad.Close()

	goodSink, err := events.NewWebhook(good.URL+"/hook?token=abc", []byte("s3cret"))
	require.NoError(t, err)
	require.Equal(t, "webhook "+good.URL+"/hook", goodSink.Name(), "the query, which may hold a token, stays out of names")
	badSink, err := events.NewWebhook(bad.URL, []byte("s3cret"))
	require.NoError(t, err)
	dir := t.TempDir()
	failed, err := events.OpenFailed(dir)
	require.NoError(t, err)
	var delivered, lost int
	var mu sync.Mutex
	p := &events.Publisher{Sinks: []events.Sink{goodSink, badSink}, Failed: failed, Region: "eu", Account: "default",
		Backoff: time.Millisecond, Observer: events.Observer{
			Delivered: func(string) { mu.Lock(); delivered++; mu.Unlock() },
			Failed:    func(string) { mu.Lock(); lost++; mu.Unlock() },
		}}
	p.Publish(context.Background(), sample("InProgress"), sample("Success"))

	require.Len(t, rcv.got, 2, "the good sink got both, after two refusals")
	require.Equal(t, "InProgress", rcv.got[0].Detail.Status, "in order")
	require.Equal(t, "Success", rcv.got[1].Detail.Status)
	require.Equal(t, "eu", rcv.got[0].Region)
	require.Equal(t, "default", rcv.got[0].Account)
	require.Equal(t, rcv.got[0].ID, rcv.headers[0])
	require.Equal(t, 2, delivered)
	require.Equal(t, 2, lost)

	kept, err := events.ReadFailed(dir)
	require.NoError(t, err)
	require.Len(t, kept, 2)
	require.Equal(t, badSink.Name(), kept[0].Sink)
	require.Contains(t, kept[0].Error, "500 Internal Server Error")
	require.Equal(t, sample("InProgress").ID, kept[0].Event.ID)

	_, err = events.NewWebhook("ftp://x", nil)
	require.ErrorContains(t, err, "want an http:// or https:// URL")
}

func TestFailedStoreIsBounded(t *testing.T) {
	dir := t.TempDir()
	s, err := events.OpenFailed(dir)
	require.NoError(t, err)
	for i := 0; i < events.MaxFailed+5; i++ {
		require.NoError(t, s.Add(events.Failure{Sink: "x", Error: "e", Event: events.New(events.DetailNode, time.Now(), []string{string(rune('a' + i%26)), time.Duration(i).String()}, nil, events.Detail{})}))
	}
	kept, err := events.ReadFailed(dir)
	require.NoError(t, err)
	require.Len(t, kept, events.MaxFailed)
	none, err := events.ReadFailed(t.TempDir())
	require.NoError(t, err)
	require.Empty(t, none)
}

func TestFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	p := &events.Publisher{Sinks: []events.Sink{&events.File{Path: path}}}
	p.Publish(context.Background(), sample("InProgress"), sample("Success"))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	require.Len(t, lines, 2)
	var ev events.Event
	require.NoError(t, json.Unmarshal(lines[1], &ev))
	require.Equal(t, "Success", ev.Detail.Status)
}

func TestNATSJetStreamDropsDuplicates(t *testing.T) {
	url := testnats.Start(t)
	sink, err := events.NewNATS(url, "stead.events")
	require.NoError(t, err)
	defer sink.Close()
	p := &events.Publisher{Sinks: []events.Sink{sink}}
	ctx := context.Background()
	p.Publish(ctx, sample("InProgress"), sample("Success"))
	p.Publish(ctx, sample("Success")) // a retried batch reports it again

	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	st, err := js.Stream(ctx, events.StreamName)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, info.State.Msgs, "the duplicate was dropped by its message id")

	_, err = events.NewNATS(url, "stead.*")
	require.ErrorContains(t, err, "without spaces or wildcards")
}
