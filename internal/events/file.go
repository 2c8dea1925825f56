package events

import (
	"context"
	"fmt"
	"os"
	"sync"
)

// File appends each event as one JSON line to a file, for log shippers.
type File struct {
	Path string
	mu   sync.Mutex
}

// Name names the file.
func (f *File) Name() string { return "file " + f.Path }

// Send appends the event's line. The file is opened for each event, so a
// log rotator may move it away at any time.
func (f *File) Send(_ context.Context, _ Event, body []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open event file: %w", err)
	}
	_, err = fh.Write(append(body[:len(body):len(body)], '\n'))
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write event file: %w", err)
	}
	return nil
}
