package events

import (
	"bufio"
	"bytes"
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
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, append(bytes.Join(lines, []byte("\n")), '\n'), 0o600); err != nil {
		return fmt.Errorf("write failed events: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("write failed events: %w", err)
	}
	return nil
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
