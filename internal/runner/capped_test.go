package runner

import (
	"strings"
	"testing"
)

// TestCappedReply: however much a node sends, the worker keeps the limit and the slack.
func TestCappedReply(t *testing.T) {
	c := &Capped{Max: 10}
	for range 3 {
		n, err := c.Write([]byte(strings.Repeat("x", 7)))
		if n != 7 || err != nil {
			t.Fatalf("write reported %d, %v; want every byte taken", n, err)
		}
	}
	if c.Len() != 10 {
		t.Fatalf("kept %d bytes, want 10", c.Len())
	}
}
