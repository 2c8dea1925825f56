package problems

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestList(t *testing.T) {
	var l List
	require.NoError(t, l.Err())
	l.Add(nil)
	l.Add(errors.New("name: required"))
	l.Add(errors.Join(errors.New("a"), errors.New("b\nc")))
	l.Addf("port %d: want 1-65535", 0)
	err := l.Err()
	require.EqualError(t, err, "name: required; a; b; c; port 0: want 1-65535")
	require.ErrorIs(t, err, ErrInvalid)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, []string{"name: required", "a", "b; c", "port 0: want 1-65535"}, e.Problems)
	require.Equal(t, 4, e.Total)
}

func TestListIsBounded(t *testing.T) {
	var l List
	for i := range 25 {
		l.Addf("problem %d", i)
	}
	err := l.Err()
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Len(t, e.Problems, Max)
	require.Equal(t, 25, e.Total)
	require.Contains(t, err.Error(), "problem 19 (and 5 more)")

	// An Error added to another list keeps its count.
	var outer List
	outer.Add(errors.New("first"))
	outer.Add(err)
	var o *Error
	require.ErrorAs(t, outer.Err(), &o)
	require.Equal(t, 26, o.Total)
	require.Len(t, o.Problems, Max)
	require.Equal(t, "first", o.Problems[0])

	// A wrapped Error is one problem, its prefix kept.
	var wrapped List
	wrapped.Add(fmt.Errorf("node 2 (x): %w", err))
	require.Equal(t, 1, wrapped.Len())
}

func TestClip(t *testing.T) {
	require.Equal(t, "short", Clip("short", 10))
	require.Equal(t, "abcde ... (5 more bytes)", Clip("abcdefghij", 5))
	// Never inside a character: é is two bytes.
	require.Equal(t, "ab ... (3 more bytes)", Clip("abé!", 3))
}
