package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/documents"
)

func TestFetchWorkerFiles(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "pkgs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "pkgs", "a.txt"), []byte("payload"), 0o644))
	outside := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(outside, []byte("key"), 0o600))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "escape")))
	sum := sha256.Sum256([]byte("payload"))

	tests := []struct {
		name  string
		files string
		path  string
		err   string
	}{
		{"served", root, "pkgs/a.txt", ""},
		{"no files directory", "", "pkgs/a.txt", "this worker serves no files"},
		{"dot-dot", root, "../secret", "worker file ../secret"},
		{"symlink out", root, "escape", "worker file escape"},
		{"missing", root, "pkgs/none", "worker file pkgs/none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Activities{Files: tt.files}
			tmp, n, got, err := a.fetch(context.Background(), &documents.Download{SourceType: documents.SourceWorker, Path: tt.path})
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				var app *temporal.ApplicationError
				require.ErrorAs(t, err, &app)
				require.True(t, app.NonRetryable())
				return
			}
			require.NoError(t, err)
			defer os.Remove(tmp)
			require.Equal(t, int64(7), n)
			require.Equal(t, hex.EncodeToString(sum[:]), got)
		})
	}
}
