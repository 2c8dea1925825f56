package codec

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// KeySize is the length of an AES-256 key in bytes.
const KeySize = 32

// EnvKeys names the environment variable that may hold the keyring itself,
// for deployments that inject secrets as variables rather than files.
const EnvKeys = "STEAD_CODEC_KEYS"

// validKeyID keeps ids short and printable: they travel in every payload's
// metadata and appear in error messages.
var validKeyID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// key is one AES-256 key and its id. The raw bytes never leave this package.
type key struct {
	id   string
	aead cipher.AEAD
	raw  []byte
}

// Keyring is an ordered set of keys: the first is active and encrypts new
// payloads; all of them decrypt. Its String and Format show ids only, so a
// keyring printed or logged by mistake leaks no key.
type Keyring struct {
	keys []key
	byID map[string]*key
}

// ParseKeyring reads a keyring in the key file format: one key per entry,
// "ID:BASE64KEY", entries separated by newlines (or commas or blanks, so an
// environment variable can hold several), '#' starting a comment line. The
// first entry is the active key. Every problem is reported at once, by
// entry number, never with key material.
func ParseKeyring(data []byte) (*Keyring, error) {
	k := &Keyring{byID: map[string]*key{}}
	var errs []error
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, entry := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
			n++
			id, enc, ok := strings.Cut(entry, ":")
			if !ok {
				errs = append(errs, fmt.Errorf("key %d: want ID:BASE64KEY", n))
				continue
			}
			if !validKeyID.MatchString(id) {
				errs = append(errs, fmt.Errorf("key %d: id %q: want 1-64 of A-Z a-z 0-9 . _ -", n, id))
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(enc)
			if err != nil || len(raw) != KeySize {
				errs = append(errs, fmt.Errorf("key %d (%s): want %d bytes in standard base64", n, id, KeySize))
				continue
			}
			if _, dup := k.byID[id]; dup {
				errs = append(errs, fmt.Errorf("key %d: id %s appears twice", n, id))
				continue
			}
			if err := k.add(id, raw); err != nil {
				errs = append(errs, fmt.Errorf("key %d (%s): %w", n, id, err))
			}
		}
	}
	if n == 0 {
		errs = append(errs, errors.New("no keys"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Keyring) add(id string, raw []byte) error {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return fmt.Errorf("create cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("create gcm: %w", err)
	}
	k.keys = append(k.keys, key{id: id, aead: aead, raw: bytes.Clone(raw)})
	// Rebuild the index: appending may have moved the slice.
	for i := range k.keys {
		k.byID[k.keys[i].id] = &k.keys[i]
	}
	return nil
}

// LoadKeyFile reads a keyring from a key file. A file other users can read
// is refused: the key is what keeps every history confidential.
func LoadKeyFile(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read codec key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("codec key file %s is readable by others (mode %s): chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read codec key file: %w", err)
	}
	k, err := ParseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("codec key file %s: %w", path, err)
	}
	return k, nil
}

// LoadEnv reads a keyring from STEAD_CODEC_KEYS; ok is false when the
// variable is unset or empty.
func LoadEnv(lookup func(string) (string, bool)) (k *Keyring, ok bool, err error) {
	v, set := lookup(EnvKeys)
	if !set || strings.TrimSpace(v) == "" {
		return nil, false, nil
	}
	k, err = ParseKeyring([]byte(v))
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", EnvKeys, err)
	}
	return k, true, nil
}

// ActiveID is the id of the key that encrypts, or "" for an empty keyring.
func (k *Keyring) ActiveID() string {
	if k == nil || len(k.keys) == 0 {
		return ""
	}
	return k.keys[0].id
}

// IDs lists the key ids, active first.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, len(k.keys))
	for i, key := range k.keys {
		ids[i] = key.id
	}
	return ids
}

// String shows the key ids only.
func (k *Keyring) String() string {
	return "keyring[" + strings.Join(k.IDs(), ",") + "]"
}

// GoString shows the key ids only, so %#v leaks nothing either.
func (k *Keyring) GoString() string { return k.String() }

// Marshal renders the keyring in the key file format, active key first.
func (k *Keyring) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("# Stead codec keys: ID:BASE64 AES-256 key, one per line. The first encrypts;\n")
	b.WriteString("# all decrypt. Keep every key that has ever been active, or its histories are lost.\n")
	for _, key := range k.keys {
		fmt.Fprintf(&b, "%s:%s\n", key.id, base64.StdEncoding.EncodeToString(key.raw))
	}
	return b.Bytes()
}

// WithNewKey returns a copy of k with a fresh random key in front: the new
// key encrypts from now on, the old ones still decrypt.
func (k *Keyring) WithNewKey(now time.Time) (*Keyring, error) {
	out := &Keyring{byID: map[string]*key{}}
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	id, err := newKeyID(now)
	if err != nil {
		return nil, err
	}
	for k != nil && k.byID[id] != nil {
		if id, err = newKeyID(now); err != nil {
			return nil, err
		}
	}
	if err := out.add(id, raw); err != nil {
		return nil, err
	}
	if k != nil {
		for _, old := range k.keys {
			if err := out.add(old.id, old.raw); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Generate returns a keyring of one fresh random key.
func Generate(now time.Time) (*Keyring, error) {
	var none *Keyring
	return none.WithNewKey(now)
}

// newKeyID names a key by its creation date and a random suffix, so an
// operator can tell keys apart and see their order at a glance.
func newKeyID(now time.Time) (string, error) {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("generate key id: %w", err)
	}
	return now.UTC().Format("20060102") + "-" + hex.EncodeToString(r[:]), nil
}

// CreateKeyFile writes a new key file holding one fresh key, readable by its
// owner only. An existing file is never overwritten: it may hold the only
// key to years of history.
func CreateKeyFile(path string, now time.Time) (*Keyring, error) {
	k, err := Generate(now)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create codec key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("codec key file %s already exists: use `stead key rotate` to add a key", path)
	}
	if err != nil {
		return nil, fmt.Errorf("create codec key file: %w", err)
	}
	_, werr := f.Write(k.Marshal())
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("write codec key file %s: %w", path, err)
	}
	return k, nil
}

// RotateKeyFile prepends a fresh active key to the key file at path and
// keeps every older key, replacing the file atomically so a crash leaves
// either the old file or the new one.
func RotateKeyFile(path string, now time.Time) (*Keyring, error) {
	old, err := LoadKeyFile(path)
	if err != nil {
		return nil, err
	}
	k, err := old.WithNewKey(now)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".codec-key-*")
	if err != nil {
		return nil, fmt.Errorf("rotate codec key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(k.Marshal())
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return nil, fmt.Errorf("write rotated codec key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("replace codec key file %s: %w", path, err)
	}
	return k, nil
}
