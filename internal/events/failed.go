package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FailedFile is the file, in a worker's events directory, that keeps the
// events its sinks refused.
const FailedFile = "failed.jsonl"

// MaxFailed bounds the undeliverable events kept: past it the oldest go,
// so a sink that is down for days cannot fill the disk.
const MaxFailed = 1000

// Failure is an event a sink did not take.
type Failure struct {
	Sink  string    `json:"sink"`
	Error string    `json:"error"`
	At    time.Time `json:"at"`
	Event Event     `json:"event"`
}

// FailedStore keeps the newest MaxFailed failures in a JSON-lines file.
type FailedStore struct {
	path string
	mu   sync.Mutex
	max  int
}

// OpenFailed opens (creating) the failed list in dir.
func OpenFailed(dir string) (*FailedStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create events directory: %w", err)
	}
	return &FailedStore{path: filepath.Join(dir, FailedFile), max: MaxFailed}, nil
}

// Add keeps f, dropping the oldest failures past the bound.
func (s *FailedStore) Add(f Failure) error {
	line, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode failure: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lines, err := readLines(s.path)
	if err != nil {
		return err
	}
	lines = append(lines, line)
	if len(lines) > s.max {
		lines = lines[len(lines)-s.max:]
	}
	return s.write(lines)
}

// ReadFailed lists the failures kept in dir, oldest first; none when
// nothing ever failed there.
func ReadFailed(dir string) ([]Failure, error) {
	lines, err := readLines(filepath.Join(dir, FailedFile))
	if err != nil {
		return nil, err
	}
	out := make([]Failure, 0, len(lines))
	for i, l := range lines {
		var f Failure
		if err := json.Unmarshal(l, &f); err != nil {
			return nil, fmt.Errorf("read failed events: line %d: %w", i+1, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// readLines reads a JSON-lines file's non-empty lines; a missing file has none.
func readLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read failed events: %w", err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, bytes.Clone(sc.Bytes()))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read failed events: %w", err)
	}
	return lines, nil
}

// ResendResult counts what Resend did with the kept events.
type ResendResult struct {
	// Delivered were taken by their sink and are no longer kept.
	Delivered int
	// Failed were refused again and stay kept.
	Failed int
	// NoSink are kept events of sinks not among those given: they stay.
	NoSink int
}

// Resend delivers each kept event, once, to the sink it failed at (the
// sink of sinks with its name) and stops keeping those that got through.
// Events of sinks not given, and those refused again, stay kept. A worker
// writing to the same list meanwhile loses nothing: the list is read again
// before it is rewritten, and only the delivered lines leave it.
func (s *FailedStore) Resend(ctx context.Context, sinks []Sink) (ResendResult, error) {
	var res ResendResult
	byName := make(map[string]Sink, len(sinks))
	for _, k := range sinks {
		byName[k.Name()] = k
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lines, err := readLines(s.path)
	if err != nil {
		return res, err
	}
	delivered := map[string]bool{}
	for i, l := range lines {
		var f Failure
		if err := json.Unmarshal(l, &f); err != nil {
			return res, fmt.Errorf("read failed events: line %d: %w", i+1, err)
		}
		sink, ok := byName[f.Sink]
		if !ok {
			res.NoSink++
			continue
		}
		body, err := json.Marshal(f.Event)
		if err != nil {
			return res, fmt.Errorf("encode event %s: %w", f.Event.ID, err)
		}
		if err := sink.Send(ctx, f.Event, body); err != nil {
			res.Failed++
			continue
		}
		res.Delivered++
		delivered[string(l)] = true
	}
	if res.Delivered == 0 {
		return res, nil
	}
	current, err := readLines(s.path)
	if err != nil {
		return res, err
	}
	var kept [][]byte
	for _, l := range current {
		if !delivered[string(l)] {
			kept = append(kept, l)
		}
	}
	return res, s.write(kept)
}

// write replaces the list with lines, atomically.
func (s *FailedStore) write(lines [][]byte) error {
	var data []byte
	if len(lines) > 0 {
		data = append(bytes.Join(lines, []byte("\n")), '\n')
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write failed events: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("write failed events: %w", err)
	}
	return nil
}
