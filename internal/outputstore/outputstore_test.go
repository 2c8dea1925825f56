package outputstore_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/outputstore"
)

func TestWriteAndList(t *testing.T) {
	s := outputstore.Store{Dir: t.TempDir()}
	k := outputstore.Key{Association: "a", Execution: "e1", Node: "n1", Step: "b"}
	write := func(k outputstore.Key, content string) error {
		return s.Write(k, outputstore.StdoutExt, func(w io.Writer) error {
			_, err := io.WriteString(w, content)
			return err
		})
	}
	require.NoError(t, write(k, "first"))
	require.NoError(t, write(k, "second"))
	k2 := k
	k2.Step = "a"
	require.NoError(t, write(k2, "other"))

	b, err := os.ReadFile(filepath.Join(s.Dir, "a", "e1", "n1", "b.stdout"))
	require.NoError(t, err)
	require.Equal(t, "second", string(b))

	// A failed write leaves what was there.
	require.Error(t, s.Write(k, outputstore.StdoutExt, func(io.Writer) error { return errors.New("boom") }))
	b, err = os.ReadFile(filepath.Join(s.Dir, "a", "e1", "n1", "b.stdout"))
	require.NoError(t, err)
	require.Equal(t, "second", string(b))

	steps, err := s.Steps(k, outputstore.StdoutExt)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, steps)

	for _, bad := range []outputstore.Key{
		{Association: "..", Execution: "e", Node: "n", Step: "s"},
		{Association: "a", Execution: "e/f", Node: "n", Step: "s"},
		{Association: "a", Execution: "e", Node: "n", Step: ""},
	} {
		_, err := s.Path(bad, outputstore.StdoutExt)
		require.ErrorContains(t, err, "not a valid name in the output store")
	}
}
