package hostguard_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stead-io/stead/internal/hostguard"
)

func TestPolicy(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	loop := hostguard.Policy{IP: net.ParseIP("127.0.0.1"), Port: 8233}
	lan := hostguard.Policy{IP: net.ParseIP("10.1.2.3"), Port: 8233}
	every := hostguard.Policy{IP: net.ParseIP("0.0.0.0"), Port: 8233}
	for _, tc := range []struct {
		name   string
		p      hostguard.Policy
		host   string
		origin string
		want   int
	}{
		{"loopback ip", loop, "127.0.0.1:8233", "", 200},
		{"localhost", loop, "localhost:8233", "http://localhost:8233", 200},
		{"localhost fqdn dot", loop, "LOCALHOST.:8233", "", 200},
		{"ipv6 loopback", loop, "[::1]:8233", "http://[::1]:8233", 200},
		{"rebinding", loop, "evil.example:8233", "", 403},
		{"rebinding same origin", loop, "evil.example:8233", "http://evil.example:8233", 403},
		{"other port", loop, "127.0.0.1:9999", "", 403},
		{"no port", loop, "127.0.0.1", "", 403},
		{"cross-site post", loop, "127.0.0.1:8233", "http://evil.example", 403},
		{"null origin", loop, "127.0.0.1:8233", "null", 403},
		{"configured address", lan, "10.1.2.3:8233", "http://10.1.2.3:8233", 200},
		{"another lan address", lan, "10.9.9.9:8233", "", 403},
		{"every interface takes ip literals", every, "192.168.1.5:8233", "http://192.168.1.5:8233", 200},
		{"every interface still refuses names", every, "evil.example:8233", "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/v1/settings", nil)
			r.Host = tc.host
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			w := httptest.NewRecorder()
			tc.p.Wrap(ok).ServeHTTP(w, r)
			assert.Equal(t, tc.want, w.Code)
		})
	}
}

func TestWrapHostLeavesOriginToTheService(t *testing.T) {
	p := hostguard.Policy{IP: net.ParseIP("127.0.0.1"), Port: 9000}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	r := httptest.NewRequest(http.MethodPost, "/decode", nil)
	r.Host = "127.0.0.1:9000"
	r.Header.Set("Origin", "http://127.0.0.1:8233")
	w := httptest.NewRecorder()
	p.WrapHost(ok).ServeHTTP(w, r)
	assert.Equal(t, 200, w.Code)
	r.Host = "evil.example:9000"
	w = httptest.NewRecorder()
	p.WrapHost(ok).ServeHTTP(w, r)
	assert.Equal(t, 403, w.Code)
}
