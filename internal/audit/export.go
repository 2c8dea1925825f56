package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/stead-io/stead/contract"
)

// maxLine bounds one exported record: far above what Stead writes (a
// record's request is clipped to a few KB), low enough that a corrupt file
// cannot make the reader hold gigabytes.
const maxLine = 1 << 20

// WriteExport writes records as JSON lines, one record a line, as
// `stead audit export` prints them.
func WriteExport(w io.Writer, records []contract.AuditRecord) error {
	enc := json.NewEncoder(w)
	for _, r := range records {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write audit record %d: %w", r.Sequence, err)
		}
	}
	return nil
}

// ParseExport reads an export: one JSON record a line, blank lines
// allowed. A line that is not exactly a record (malformed JSON, a field
// Stead does not write, a second value on the line) is an error naming the
// line, so an edit cannot hide in what the hash does not cover.
func ParseExport(r io.Reader) ([]contract.AuditRecord, error) {
	var out []contract.AuditRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var rec contract.AuditRecord
		if err := dec.Decode(&rec); err != nil {
			return nil, fmt.Errorf("audit export line %d: %w", line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("audit export line %d: more than one record on the line", line)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("audit export line %d: longer than %d bytes", line+1, maxLine)
		}
		return nil, fmt.Errorf("read audit export: %w", err)
	}
	return out, nil
}
