package codec

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// maxRequestBytes bounds a codec request body. The Web UI sends a history's
// payloads in batches; Temporal itself refuses payloads over 2 MB.
const maxRequestBytes = 32 << 20

// HandlerOptions say who may call the codec endpoint.
type HandlerOptions struct {
	// Origins are the Web UI origins (scheme://host:port) a browser may
	// call from. A request carrying any other Origin is refused, so a page
	// on another site cannot use a logged-in browser to decode payloads.
	Origins []string
	// Token, when set, must arrive as "Authorization: Bearer TOKEN" on
	// every encode and decode request.
	Token string
}

// NewHandler serves Temporal's remote codec protocol for keys: POST
// .../encode and .../decode with a JSON {"payloads": [...]} body, answered
// in kind. It adds what a browser-facing endpoint needs: CORS for the
// allowed origins and an optional bearer token.
func NewHandler(keys *Keyring, opts HandlerOptions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(New(keys))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" {
			if !slices.Contains(opts.Origins, origin) {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
		}
		if !strings.HasSuffix(r.URL.Path, "/encode") && !strings.HasSuffix(r.URL.Path, "/decode") {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodOptions:
			// A preflight carries no credentials by design; it only learns
			// what the real request may send.
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		case http.MethodPost:
		default:
			w.Header().Set("Allow", "POST, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if opts.Token != "" && !bearerMatches(r.Header.Get("Authorization"), opts.Token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="stead-codec"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
		inner.ServeHTTP(w, r)
	})
}

// bearerMatches compares in constant time, so response timing does not
// reveal how much of a guessed token was right.
func bearerMatches(header, token string) bool {
	got, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
