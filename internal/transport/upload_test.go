package transport

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocalUpload(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, dest, content string
	}{
		{"new directories", filepath.Join(dir, "a", "b", "file"), "one"},
		{"replace", filepath.Join(dir, "a", "b", "file"), "two"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Upload(context.Background(), localConn{}, tt.dest, strings.NewReader(tt.content), 0o640)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(got)
			if err != nil || string(b) != tt.content {
				t.Fatalf("read %s: %q, %v", got, b, err)
			}
			entries, _ := os.ReadDir(filepath.Dir(got))
			if len(entries) != 1 {
				t.Fatalf("temporary files left: %v", entries)
			}
		})
	}
}
