package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/contract"
)

// chain makes a log of n linked records.
func chain(t *testing.T, n int) []contract.AuditRecord {
	t.Helper()
	var out []contract.AuditRecord
	for i := range n {
		r := contract.AuditRecord{
			EventVersion: contract.AuditRecordVersion, EventID: fmt.Sprintf("ev-%d", i),
			EventTime: time.Date(2026, 1, 2, 3, 4, i, 0, time.UTC), EventSource: "stead", EventName: contract.OpUpdateAssociation,
			UserIdentity: contract.AuditIdentity{Type: contract.IdentityUser, PrincipalID: "alice@ws", UserName: "alice"},
			Resources:    []contract.AuditResource{{Type: contract.AuditResourceAssociation, Name: "web"}},
			Request:      json.RawMessage(fmt.Sprintf(`{"b": %d, "a": "x"}`, i)),
		}
		var prev *contract.AuditRecord
		if i > 0 {
			prev = &out[i-1]
		}
		linked, err := Link(prev, r)
		require.NoError(t, err)
		out = append(out, linked)
	}
	return out
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name   string
		change func([]contract.AuditRecord) []contract.AuditRecord
		middle bool
		broken int // index of the record named, -1 for none
		reason string
	}{
		{"intact", func(r []contract.AuditRecord) []contract.AuditRecord { return r }, false, -1, ""},
		{"edited request", func(r []contract.AuditRecord) []contract.AuditRecord {
			r[2].Request = json.RawMessage(`{"b":2,"a":"y"}`)
			return r
		}, false, 2, "does not match its hash"},
		{"edited identity", func(r []contract.AuditRecord) []contract.AuditRecord {
			r[3].UserIdentity.UserName = "mallory"
			return r
		}, false, 3, "does not match its hash"},
		{"edited and rehashed", func(r []contract.AuditRecord) []contract.AuditRecord {
			r[1].ErrorCode = "Conflict"
			r[1].Hash, _ = Hash(r[1])
			return r
		}, false, 2, "previous hash"},
		{"removed", func(r []contract.AuditRecord) []contract.AuditRecord {
			return append(r[:1], r[2:]...)
		}, false, 1, "sequence 3 follows 1"},
		{"beginning missing", func(r []contract.AuditRecord) []contract.AuditRecord { return r[2:] }, false, 0, "starts at sequence 3"},
		{"tail export", func(r []contract.AuditRecord) []contract.AuditRecord { return r[2:] }, true, -1, ""},
		{"empty", func([]contract.AuditRecord) []contract.AuditRecord { return nil }, false, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.change(chain(t, 5)), tt.middle)
			if tt.broken < 0 {
				require.NoError(t, err)
				return
			}
			var b *BrokenError
			require.True(t, errors.As(err, &b), "%v", err)
			require.Equal(t, tt.broken, b.Index)
			require.Contains(t, err.Error(), tt.reason)
		})
	}
}

func TestHashIgnoresWhitespaceOfRawParts(t *testing.T) {
	r := chain(t, 1)[0]
	spaced := r
	spaced.Request = json.RawMessage("{ \"b\" :0,\n \"a\": \"x\" }")
	require.Equal(t, mustHash(t, r), mustHash(t, spaced))
	reordered := r
	reordered.Request = json.RawMessage(`{"a":"x","b":0}`)
	require.NotEqual(t, mustHash(t, r), mustHash(t, reordered), "key order is content: the hash covers the bytes as written")
}

func mustHash(t *testing.T, r contract.AuditRecord) string {
	h, err := Hash(r)
	require.NoError(t, err)
	return h
}

func TestExportRoundTrip(t *testing.T) {
	records := chain(t, 4)
	var buf bytes.Buffer
	require.NoError(t, WriteExport(&buf, records))
	require.Equal(t, 4, strings.Count(buf.String(), "\n"))
	got, err := ParseExport(strings.NewReader("\n" + buf.String() + "\n\n"))
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.NoError(t, Verify(got, false))
}

func TestParseExportRefuses(t *testing.T) {
	good, err := json.Marshal(chain(t, 1)[0])
	require.NoError(t, err)
	tests := []struct{ name, in, want string }{
		{"not json", "hello\n", "line 1"},
		{"unknown field", strings.Replace(string(good), `"eventVersion"`, `"sneaky":1,"eventVersion"`, 1), "unknown field"},
		{"two values", string(good) + " {}", "more than one record"},
		{"second line bad", string(good) + "\n{\"eventTime\":\"yesterday\"}", "line 2"},
		{"too long", strings.Repeat("x", maxLine+1), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseExport(strings.NewReader(tt.in))
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		by, user, host, subject, typ string
	}{
		{"alice@ws1", "alice", "ws1", "", contract.IdentityUser},
		{Identity("bob", "ci", "CN=bob,O=Ops"), "bob", "ci", "CN=bob,O=Ops", contract.IdentityUser},
		{"script", "script", "", "", contract.IdentityUser},
		{"", "", "", "", contract.IdentityNone},
	}
	for _, tt := range tests {
		t.Run(tt.by, func(t *testing.T) {
			id, host := ParseIdentity(tt.by)
			require.Equal(t, tt.typ, id.Type)
			require.Equal(t, tt.user, id.UserName)
			require.Equal(t, tt.host, host)
			require.Equal(t, tt.subject, id.CertificateSubject)
			require.NotEmpty(t, id.PrincipalID)
		})
	}
}

// FuzzParseExport: any input either parses into records that write back
// and parse again to the same records, or is refused with a one-line error;
// it never panics.
func FuzzParseExport(f *testing.F) {
	var buf bytes.Buffer
	records := make([]contract.AuditRecord, 0, 2)
	for i := range 2 {
		r := contract.AuditRecord{EventID: fmt.Sprint(i), EventName: contract.OpCreateDocument, Request: json.RawMessage(`{"name":"d"}`)}
		var prev *contract.AuditRecord
		if i > 0 {
			prev = &records[i-1]
		}
		linked, _ := Link(prev, r)
		records = append(records, linked)
	}
	_ = WriteExport(&buf, records)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"eventVersion":"1.0","requestParameters":[1,2],"sequenceNumber":-1}`))
	f.Add([]byte("{}\n\n{}"))
	f.Add([]byte(`{"requestParameters":{"a":"\u0000"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseExport(bytes.NewReader(data))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		_ = Verify(got, true)
		var out bytes.Buffer
		if err := WriteExport(&out, got); err != nil {
			return // a raw part that is not JSON Stead would write: refused on write
		}
		again, err := ParseExport(&out)
		if err != nil {
			t.Fatalf("written export does not parse: %v", err)
		}
		if len(again) != len(got) {
			t.Fatalf("%d records written, %d read back", len(got), len(again))
		}
		for i := range got {
			h1, err1 := Hash(got[i])
			h2, err2 := Hash(again[i])
			if err1 != nil || err2 != nil || h1 != h2 {
				t.Fatalf("record %d hashes differently after a round trip", i)
			}
		}
	})
}
