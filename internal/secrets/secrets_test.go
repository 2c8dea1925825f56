package secrets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, text string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(p, []byte(text), mode))
	require.NoError(t, os.Chmod(p, mode))
	return p
}

func TestLoad(t *testing.T) {
	t.Run("NAME=value lines", func(t *testing.T) {
		s, err := Load(writeFile(t, "# db\ndb_password=p=ss word\n/prod/api-key=k3y\n", 0o600), nil)
		require.NoError(t, err)
		v, ok := s.Lookup("db_password")
		require.True(t, ok)
		require.Equal(t, "p=ss word", v)
		v, _ = s.Lookup("/prod/api-key")
		require.Equal(t, "k3y", v)
	})
	t.Run("YAML", func(t *testing.T) {
		s, err := Load(writeFile(t, "db_password: \"s3cr3t: yes\"\nport: 5432\n", 0o600), []string{"STEAD_SECRET_port=6543", "OTHER=x"})
		require.NoError(t, err)
		v, _ := s.Lookup("db_password")
		require.Equal(t, "s3cr3t: yes", v)
		v, _ = s.Lookup("port")
		require.Equal(t, "6543", v, "the environment overrides the file")
		require.Equal(t, 2, s.Len())
	})
	t.Run("environment only", func(t *testing.T) {
		s, err := Load("", []string{"STEAD_SECRET_token=abc"})
		require.NoError(t, err)
		v, ok := s.Lookup("token")
		require.True(t, ok)
		require.Equal(t, "abc", v)
		_, ok = (*Store)(nil).Lookup("token")
		require.False(t, ok)
	})
	const value = "hunter2-value"
	for name, tc := range map[string]struct {
		text string
		mode os.FileMode
		env  []string
		want string
	}{
		"readable by others": {text: "a=" + value, mode: 0o644, want: "readable by group or others (mode 0644)"},
		"not a mapping":      {text: "- " + value, mode: 0o600, want: "want a mapping"},
		"nested value":       {text: "a:\n  b: " + value, mode: 0o600, want: "want a secret name and a text value"},
		"bad YAML":           {text: "a: [" + value, mode: 0o600, want: "not NAME=value lines and not valid YAML"},
		"empty value":        {text: "a=\n", mode: 0o600, want: "secret a is empty"},
		"bad name":           {text: "\"a b\": " + value, mode: 0o600, want: `secret name "a b"`},
		"duplicate":          {text: "a: " + value + "\na: x", mode: 0o600, want: "given twice"},
		"too long":           {text: "a=" + strings.Repeat("x", MaxValueBytes+1), mode: 0o600, want: "more than the limit of 65536"},
		"bad env name":       {env: []string{"STEAD_SECRET_a b=" + value}, want: "STEAD_SECRET_a b"},
	} {
		t.Run(name, func(t *testing.T) {
			file := ""
			if tc.text != "" {
				file = writeFile(t, tc.text, tc.mode)
			}
			_, err := Load(file, tc.env)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), value, "errors never quote a value")
			require.NotContains(t, err.Error(), "\n")
		})
	}
	_, err := Load(filepath.Join(t.TempDir(), "missing"), nil)
	require.ErrorContains(t, err, "read secrets file")
}

func TestRedactor(t *testing.T) {
	r := NewRedactor([]string{"s3cr3t", "s3cr3t-longer", "", "line one\nline two\nx"})
	require.Equal(t, "a *** b *** c", r.String("a s3cr3t b s3cr3t-longer c"))
	require.Equal(t, "*** and ***", r.String("line one and line two"), "lines of a multi-line secret are redacted on their own")
	require.Equal(t, "x y", r.String("x y"), "short lines are not")
	require.True(t, r.Contains("..s3cr3t.."))
	require.False(t, r.Contains("nothing"))
	require.Equal(t, "out: ***", r.Truncated("out: s3cr"), "a secret cut off by truncation is redacted")
	require.Equal(t, "out: done", r.Truncated("out: done"))
	var none *Redactor
	require.True(t, none.Empty())
	require.Equal(t, "s3cr3t", none.String("s3cr3t"))
	require.True(t, NewRedactor(nil).Empty())
}

func TestRedactingWriter(t *testing.T) {
	r := NewRedactor([]string{"s3cr3t", "longer-s3cr3t"})
	text := "a s3cr3t b longer-s3cr3t c s3cr3"
	for size := 1; size <= len(text); size++ {
		var out strings.Builder
		w := r.Writer(&out)
		for i := 0; i < len(text); i += size {
			_, err := w.Write([]byte(text[i:min(i+size, len(text))]))
			require.NoError(t, err)
		}
		require.NoError(t, w.Flush())
		require.Equal(t, "a *** b *** c s3cr3", out.String(), "writes of %d bytes", size)
	}
}
