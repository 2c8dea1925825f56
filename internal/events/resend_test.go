package events_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/events"
)

// Resend delivers kept events to their sinks and keeps only those refused
// again or whose sink is not given.
func TestResendFailed(t *testing.T) {
	dir := t.TempDir()
	store, err := events.OpenFailed(dir)
	require.NoError(t, err)
	file := &events.File{Path: filepath.Join(dir, "out.jsonl")}
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "still down", http.StatusServiceUnavailable)
	}))
	defer refusing.Close()
	hook, err := events.NewWebhook(refusing.URL, nil)
	require.NoError(t, err)

	add := func(sink, status string) {
		require.NoError(t, store.Add(events.Failure{Sink: sink, Error: "down", At: time.Now(), Event: sample(status)}))
	}
	add(file.Name(), "InProgress")
	add(hook.Name(), "InProgress")
	add(file.Name(), "Success")
	add("webhook https://gone.example/", "Success")

	res, err := store.Resend(context.Background(), []events.Sink{file, hook})
	require.NoError(t, err)
	require.Equal(t, events.ResendResult{Delivered: 2, Failed: 1, NoSink: 1}, res)

	kept, err := events.ReadFailed(dir)
	require.NoError(t, err)
	require.Len(t, kept, 2)
	require.Equal(t, hook.Name(), kept[0].Sink)
	require.Equal(t, "webhook https://gone.example/", kept[1].Sink)

	b, err := os.ReadFile(file.Path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 2)
	var first events.Event
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.Equal(t, sample("InProgress").ID, first.ID, "the same event, its id unchanged, in the order kept")

	// Nothing left to deliver: nothing changes.
	res, err = store.Resend(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, events.ResendResult{NoSink: 2}, res)
}
