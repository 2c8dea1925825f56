package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

const canary = "canary-7f3a9c"

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newKeys(t *testing.T) *Keyring {
	t.Helper()
	k, err := Generate(now)
	require.NoError(t, err)
	return k
}

func TestRoundTripHidesPlaintext(t *testing.T) {
	keys := newKeys(t)
	dc := NewDataConverter(keys)
	p, err := dc.ToPayload(map[string]string{"password": canary})
	require.NoError(t, err)
	require.NotContains(t, string(p.Data), canary)
	require.Equal(t, Encoding, string(p.Metadata[converter.MetadataEncoding]))
	require.Equal(t, keys.ActiveID(), string(p.Metadata[MetadataKeyID]))
	for k, v := range p.Metadata {
		require.NotContains(t, string(v), canary, k)
	}

	var got map[string]string
	require.NoError(t, dc.FromPayload(p, &got))
	require.Equal(t, canary, got["password"])

	// Two encryptions of one value differ: nothing repeats across payloads.
	p2, err := dc.ToPayload(map[string]string{"password": canary})
	require.NoError(t, err)
	require.NotEqual(t, p.Data, p2.Data)
}

func TestPlaintextPassesThrough(t *testing.T) {
	// Search attributes and histories from before encryption are plaintext.
	plain, err := converter.GetDefaultDataConverter().ToPayload("hello")
	require.NoError(t, err)
	var s string
	require.NoError(t, NewDataConverter(newKeys(t)).FromPayload(plain, &s))
	require.Equal(t, "hello", s)
	require.NoError(t, NewDataConverter(nil).FromPayload(plain, &s))
}

func TestRotationKeepsOldPayloadsReadable(t *testing.T) {
	old := newKeys(t)
	p, err := NewDataConverter(old).ToPayload(canary)
	require.NoError(t, err)

	rotated, err := old.WithNewKey(now.Add(24 * time.Hour))
	require.NoError(t, err)
	require.NotEqual(t, old.ActiveID(), rotated.ActiveID())
	require.Equal(t, []string{rotated.ActiveID(), old.ActiveID()}, rotated.IDs())

	var s string
	require.NoError(t, NewDataConverter(rotated).FromPayload(p, &s))
	require.Equal(t, canary, s)
	// New payloads use the new key.
	p2, err := NewDataConverter(rotated).ToPayload(canary)
	require.NoError(t, err)
	require.Equal(t, rotated.ActiveID(), string(p2.Metadata[MetadataKeyID]))
}

func TestDecodeFailuresAreClear(t *testing.T) {
	keys := newKeys(t)
	p, err := NewDataConverter(keys).ToPayload(canary)
	require.NoError(t, err)
	id := keys.ActiveID()

	// The same id over a different key: what a wrong key file looks like.
	wrong, err := ParseKeyring([]byte(id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, KeySize))))
	require.NoError(t, err)
	other := newKeys(t)
	tampered := &commonpb.Payload{Metadata: p.Metadata, Data: bytes.Clone(p.Data)}
	tampered.Data[len(tampered.Data)-1] ^= 1

	cases := []struct {
		name string
		keys *Keyring
		p    *commonpb.Payload
		want string
	}{
		{"wrong key", wrong, p, fmt.Sprintf("decrypt payload with codec key %q: authentication failed", id)},
		{"unknown key id", other, p, fmt.Sprintf("encrypted with codec key %q, which the keyring lacks (it has %s)", id, other.ActiveID())},
		{"no key", nil, p, "no codec key is configured"},
		{"tampered", keys, tampered, "authentication failed"},
		{"truncated", keys, &commonpb.Payload{Metadata: p.Metadata, Data: p.Data[:5]}, "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s string
			err := NewDataConverter(c.keys).FromPayload(c.p, &s)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.NotContains(t, err.Error(), "\n")
			require.Empty(t, s)
		})
	}
}

func TestNoKeyWritesPlaintext(t *testing.T) {
	// A client without a key behaves as Temporal does by default.
	p, err := NewDataConverter(nil).ToPayload("x")
	require.NoError(t, err)
	require.Equal(t, "json/plain", string(p.Metadata[converter.MetadataEncoding]))
}

func TestFailuresAreEncrypted(t *testing.T) {
	keys := newKeys(t)
	dc := NewDataConverter(keys)
	fc := NewFailureConverter(keys, dc)
	f := fc.ErrorToFailure(temporal.NewNonRetryableApplicationError("bad value "+canary, "InvalidDocument", nil))
	require.NotContains(t, f.String(), canary)
	require.Equal(t, "InvalidDocument", f.GetApplicationFailureInfo().GetType())
	back := fc.FailureToError(f)
	require.Contains(t, back.Error(), canary)
}

func TestParseKeyring(t *testing.T) {
	a := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, KeySize))
	b := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, KeySize))
	ok := []struct{ name, in string }{
		{"lines with comments", "# keys\nnew:" + a + "\n\nold:" + b + "\n"},
		{"env style", "new:" + a + ",old:" + b},
		{"blank separated", " new:" + a + " old:" + b + " "},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			k, err := ParseKeyring([]byte(c.in))
			require.NoError(t, err)
			require.Equal(t, []string{"new", "old"}, k.IDs())
		})
	}
	bad := []struct{ name, in, want string }{
		{"empty", "# nothing\n", "no keys"},
		{"no colon", a, "key 1: want ID:BASE64KEY"},
		{"bad id", "a/b:" + a, `key 1: id "a/b"`},
		{"short key", "k:" + base64.StdEncoding.EncodeToString([]byte("short")), "key 1 (k): want 32 bytes"},
		{"not base64", "k:!!!", "key 1 (k): want 32 bytes"},
		{"duplicate", "k:" + a + "\nk:" + b, "key 2: id k appears twice"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseKeyring([]byte(c.in))
			require.ErrorContains(t, err, c.want)
			require.NotContains(t, err.Error(), a)
			require.NotContains(t, err.Error(), b)
		})
	}
}

func TestKeyringNeverPrintsKeys(t *testing.T) {
	k := newKeys(t)
	secret := base64.StdEncoding.EncodeToString(k.keys[0].raw)
	for _, s := range []string{k.String(), fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		require.NotContains(t, s, secret)
		require.Contains(t, s, k.ActiveID())
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "codec.key")
	created, err := CreateKeyFile(path, now)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	_, err = CreateKeyFile(path, now)
	require.ErrorContains(t, err, "already exists")

	p, err := NewDataConverter(created).ToPayload(canary)
	require.NoError(t, err)
	rotated, err := RotateKeyFile(path, now.Add(time.Hour))
	require.NoError(t, err)
	loaded, err := LoadKeyFile(path)
	require.NoError(t, err)
	require.Equal(t, rotated.IDs(), loaded.IDs())
	require.Equal(t, []string{rotated.ActiveID(), created.ActiveID()}, loaded.IDs())
	var s string
	require.NoError(t, NewDataConverter(loaded).FromPayload(p, &s))
	require.Equal(t, canary, s)
	fi, err = os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = LoadKeyFile(path)
	require.ErrorContains(t, err, "readable by others")
	_, err = LoadKeyFile(filepath.Join(dir, "missing"))
	require.ErrorContains(t, err, "read codec key file")
}

func TestLoadEnv(t *testing.T) {
	k := newKeys(t)
	env := map[string]string{EnvKeys: strings.TrimSpace(strings.Join(strings.Split(string(k.Marshal()), "\n")[2:], ","))}
	lookup := func(n string) (string, bool) { v, ok := env[n]; return v, ok }
	got, ok, err := LoadEnv(lookup)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, k.IDs(), got.IDs())

	env[EnvKeys] = "bad"
	_, _, err = LoadEnv(lookup)
	require.ErrorContains(t, err, EnvKeys+": key 1")
	delete(env, EnvKeys)
	_, ok, err = LoadEnv(lookup)
	require.NoError(t, err)
	require.False(t, ok)
}

// codecRequest posts payloads to the handler the way the Web UI does.
func codecRequest(t *testing.T, h http.Handler, path, origin, auth string, payloads []*commonpb.Payload) *httptest.ResponseRecorder {
	t.Helper()
	body, err := json.Marshal(map[string]any{"payloads": payloads})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Namespace", "default")
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func decodeResponse(t *testing.T, w *httptest.ResponseRecorder) []*commonpb.Payload {
	t.Helper()
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var resp struct{ Payloads []*commonpb.Payload }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
	return resp.Payloads
}

func TestHandler(t *testing.T) {
	keys := newKeys(t)
	const ui = "http://127.0.0.1:8233"
	h := NewHandler(keys, HandlerOptions{Origins: []string{ui}})
	plain, err := converter.GetDefaultDataConverter().ToPayload(canary)
	require.NoError(t, err)

	enc := decodeResponse(t, codecRequest(t, h, "/encode", ui, "", []*commonpb.Payload{plain}))
	require.Len(t, enc, 1)
	require.Equal(t, Encoding, string(enc[0].Metadata[converter.MetadataEncoding]))
	require.NotContains(t, string(enc[0].Data), canary)

	w := codecRequest(t, h, "/decode", ui, "", enc)
	require.Equal(t, ui, w.Header().Get("Access-Control-Allow-Origin"))
	dec := decodeResponse(t, w)
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(dec[0], &s))
	require.Equal(t, canary, s)

	// What the Web UI's browser asks before posting.
	pre := httptest.NewRequest(http.MethodOptions, "/decode", nil)
	pre.Header.Set("Origin", ui)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pw := httptest.NewRecorder()
	h.ServeHTTP(pw, pre)
	require.Equal(t, http.StatusNoContent, pw.Code)
	require.Equal(t, ui, pw.Header().Get("Access-Control-Allow-Origin"))
	require.Contains(t, pw.Header().Get("Access-Control-Allow-Headers"), "X-Namespace")
	require.Contains(t, pw.Header().Get("Access-Control-Allow-Methods"), "POST")

	// Another site's page gets nothing.
	w = codecRequest(t, h, "/decode", "https://evil.example", "", enc)
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))
	require.NotContains(t, w.Body.String(), canary)

	require.Equal(t, http.StatusNotFound, codecRequest(t, h, "/other", ui, "", enc).Code)
	gw := httptest.NewRecorder()
	h.ServeHTTP(gw, httptest.NewRequest(http.MethodGet, "/decode", nil))
	require.Equal(t, http.StatusMethodNotAllowed, gw.Code)

	// A payload under a key the server lacks is a client error, not a crash.
	w = codecRequest(t, NewHandler(newKeys(t), HandlerOptions{}), "/decode", "", "", enc)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "which the keyring lacks")
}

func TestHandlerToken(t *testing.T) {
	keys := newKeys(t)
	h := NewHandler(keys, HandlerOptions{Token: "s3cret"})
	enc, err := NewDataConverter(keys).ToPayload(canary)
	require.NoError(t, err)
	for _, auth := range []string{"", "Bearer wrong", "s3cret", "Basic s3cret", "Bearer s3cret2"} {
		w := codecRequest(t, h, "/decode", "", auth, []*commonpb.Payload{enc})
		require.Equal(t, http.StatusUnauthorized, w.Code, auth)
		require.NotContains(t, w.Body.String(), canary)
	}
	dec := decodeResponse(t, codecRequest(t, h, "/decode", "", "Bearer s3cret", []*commonpb.Payload{enc}))
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(dec[0], &s))
	require.Equal(t, canary, s)
}
