package namespace

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/api/serviceerror"
)

// A server with an authorizer refuses callers without admin rights; no
// server here runs one, so the refusal is built as the server sends it.
func TestRefusalSaysWhatTheCallerNeeds(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"permission", serviceerror.NewPermissionDenied("Request unauthorized.", ""), "set up namespace prod: permission denied to register the namespace (the caller needs namespace admin rights"},
		{"unimplemented", serviceerror.NewUnimplemented("not supported"), "set up namespace prod: the server does not allow clients to register the namespace"},
		{"other", serviceerror.NewUnavailable("connection refused"), "set up namespace prod: register the namespace: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := refused("prod", "register the namespace", tc.err)
			assert.Contains(t, err.Error(), tc.want)
			assert.False(t, strings.Contains(err.Error(), "\n"))
			assert.ErrorIs(t, err, tc.err)
		})
	}
}
