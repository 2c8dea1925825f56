// Package secrets holds the values that {{ssm-secure:NAME}} parameter references resolve
// to on a worker, and redacts those values from what Stead captures.
//
// A reference travels through the CLI, the workflows and Temporal's history as the text
// "{{ssm-secure:NAME}}"; only the worker that runs the step looks NAME up, just before the
// step starts, and the value reaches the node as an environment variable. Whatever the
// step prints is redacted before the activity returns, so the value never reaches history.
package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts the environment variables a worker reads secrets from:
// STEAD_SECRET_db_password defines the secret db_password.
const EnvPrefix = "STEAD_SECRET_"

// Limits on a secrets file and its values. A value travels to the node in its
// environment, which Linux bounds, and is searched for in every captured output.
const (
	MaxFileBytes  = 1 << 20
	MaxValueBytes = 64 * 1024
)

// nameRE is what a secret name may be: the same names {{ssm-secure:NAME}} accepts.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_./-]{1,256}$`)

// envLineRE matches a NAME=value line.
var envLineRE = regexp.MustCompile(`^[A-Za-z0-9_./-]+=`)

// Store is a worker's secrets by name. The zero value and nil hold none.
type Store struct {
	values map[string]string
}

// Lookup returns the value of secret name.
func (s *Store) Lookup(name string) (string, bool) {
	if s == nil {
		return "", false
	}
	v, ok := s.values[name]
	return v, ok
}

// Len is how many secrets s holds.
func (s *Store) Len() int {
	if s == nil {
		return 0
	}
	return len(s.values)
}

// Load reads the secrets of file (none if file is "") and of the STEAD_SECRET_<NAME>
// variables of environ; a variable overrides the file's value of the same name. The file
// must not be readable by group or others. No error message quotes a value.
func Load(file string, environ []string) (*Store, error) {
	s := &Store{values: map[string]string{}}
	if file != "" {
		if err := s.loadFile(file); err != nil {
			return nil, err
		}
	}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvPrefix)
		if err := s.add(name, value); err != nil {
			return nil, fmt.Errorf("read secret from %s%s: %w", EnvPrefix, name, err)
		}
	}
	return s, nil
}

func (s *Store) loadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read secrets file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read secrets file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("read secrets file %s: it is readable by group or others (mode %04o); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	if fi.Size() > MaxFileBytes {
		return fmt.Errorf("read secrets file %s: it is %d bytes, more than the limit of %d", path, fi.Size(), MaxFileBytes)
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil && fi.Size() > 0 {
		return fmt.Errorf("read secrets file: %w", err)
	}
	if err := s.parse(string(data)); err != nil {
		return fmt.Errorf("read secrets file %s: %w", path, err)
	}
	return nil
}

// parse reads NAME=value lines when every line that is not blank or a # comment is one,
// and a YAML mapping of names to values otherwise.
func (s *Store) parse(text string) error {
	lines := strings.Split(text, "\n")
	envForm := false
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if !envLineRE.MatchString(t) {
			envForm = false
			break
		}
		envForm = true
	}
	if envForm {
		for i, l := range lines {
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			name, value, _ := strings.Cut(strings.TrimLeft(l, " \t"), "=")
			if err := s.add(name, strings.TrimSuffix(value, "\r")); err != nil {
				return fmt.Errorf("line %d: %w", i+1, err)
			}
		}
		return nil
	}
	var doc yaml.Node
	// yaml's own messages may quote the text, i.e. a secret: they are not repeated.
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return errors.New("not NAME=value lines and not valid YAML")
	}
	if len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of secret names to values", m.Line)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: want a secret name and a text value", k.Line)
		}
		if _, dup := s.values[k.Value]; dup {
			return fmt.Errorf("line %d: secret %s is given twice", k.Line, strconv.Quote(k.Value))
		}
		if err := s.add(k.Value, v.Value); err != nil {
			return fmt.Errorf("line %d: %w", k.Line, err)
		}
	}
	return nil
}

func (s *Store) add(name, value string) error {
	switch {
	case !nameRE.MatchString(name):
		return fmt.Errorf("secret name %s: use letters, digits, '_', '.', '/' and '-' (at most 256)", strconv.Quote(name))
	case value == "":
		return fmt.Errorf("secret %s is empty", name)
	case len(value) > MaxValueBytes:
		return fmt.Errorf("secret %s is %d bytes, more than the limit of %d", name, len(value), MaxValueBytes)
	case strings.IndexByte(value, 0) >= 0:
		return fmt.Errorf("secret %s contains a NUL byte", name)
	}
	s.values[name] = value
	return nil
}

// Redactor replaces secret values with "***" in text.
type Redactor struct {
	values   []string // longest first
	replacer *strings.Replacer
}

// minLineLength is the shortest line of a multi-line secret that is redacted on its own:
// a step may print such a secret line by line, but redacting every short line (a lone
// "}" of a key file) would mangle unrelated output.
const minLineLength = 4

// NewRedactor redacts each of values, and each line of a multi-line value. Empty
// values are ignored.
func NewRedactor(values []string) *Redactor {
	seen := map[string]bool{}
	var all []string
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			all = append(all, v)
		}
	}
	for _, v := range values {
		add(v)
		if strings.Contains(v, "\n") {
			for l := range strings.SplitSeq(v, "\n") {
				if l = strings.TrimRight(l, "\r"); len(l) >= minLineLength {
					add(l)
				}
			}
		}
	}
	// strings.Replacer tries its pairs in order at each position: the longest first, so
	// that a secret containing another is redacted whole.
	sort.SliceStable(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	pairs := make([]string, 0, 2*len(all))
	for _, v := range all {
		pairs = append(pairs, v, "***")
	}
	return &Redactor{values: all, replacer: strings.NewReplacer(pairs...)}
}

// Empty reports whether r redacts nothing.
func (r *Redactor) Empty() bool { return r == nil || len(r.values) == 0 }

// String returns s with every secret value replaced by "***".
func (r *Redactor) String(s string) string {
	if r.Empty() {
		return s
	}
	return r.replacer.Replace(s)
}

// Truncated is String for the start of a longer text: a secret cut off at the end of s
// is redacted too, since the part shown would give its first characters away.
func (r *Redactor) Truncated(s string) string {
	s = r.String(s)
	if r.Empty() {
		return s
	}
	cut := len(s)
	for _, v := range r.values {
		for n := min(len(v)-1, len(s)); n > 0; n-- {
			if strings.HasSuffix(s, v[:n]) {
				cut = min(cut, len(s)-n)
				break
			}
		}
	}
	if cut < len(s) {
		return s[:cut] + "***"
	}
	return s
}

// Contains reports whether s holds a secret value.
func (r *Redactor) Contains(s string) bool {
	return !r.Empty() && r.String(s) != s
}

// Writer returns a writer that redacts what it passes on to w, even when a secret is
// split across writes: it holds back the end of what it was given until it can tell.
// Flush passes the rest on once the stream is over.
func (r *Redactor) Writer(w io.Writer) *Writer {
	rw := &Writer{w: w}
	if !r.Empty() {
		rw.longest = len(r.values[0])
		for _, v := range r.values {
			rw.values = append(rw.values, []byte(v))
		}
	}
	return rw
}

// Writer is a redacting writer; see Redactor.Writer.
type Writer struct {
	values  [][]byte // longest first
	w       io.Writer
	longest int
	held    []byte
	err     error
}

// Write redacts p and passes on everything that can no longer be part of a secret.
func (rw *Writer) Write(p []byte) (int, error) {
	if rw.err != nil {
		return 0, rw.err
	}
	rw.held = append(rw.held, p...)
	rw.emit(len(rw.held) - (rw.longest - 1))
	return len(p), rw.err
}

// Flush passes on what Write held back.
func (rw *Writer) Flush() error {
	if rw.err == nil {
		rw.emit(len(rw.held))
	}
	return rw.err
}

// emit writes the redacted text of held up to cut (or just past a secret that starts
// before cut), keeping the rest. A secret starting before cut lies wholly in held, since
// cut leaves room for the longest.
func (rw *Writer) emit(cut int) {
	if cut <= 0 {
		return
	}
	var out []byte
	i := 0
scan:
	for i < cut {
		for _, v := range rw.values {
			if bytes.HasPrefix(rw.held[i:], v) {
				out = append(out, "***"...)
				i += len(v)
				continue scan
			}
		}
		out = append(out, rw.held[i])
		i++
	}
	rw.held = append(rw.held[:0], rw.held[i:]...)
	if len(out) > 0 {
		_, rw.err = rw.w.Write(out)
	}
}
