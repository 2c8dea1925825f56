package devserver_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/stead-io/stead/internal/devserver"
)

// uiRequest sends one request to the Web UI as a browser would, with the
// Host (and Origin) header the page's address gives it and the UI's CSRF
// token, and returns the status and body.
func uiRequest(t *testing.T, uiURL, method, path, host, origin, csrf, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, uiURL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Host = host
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
		req.AddCookie(&http.Cookie{Name: "_csrf", Value: csrf})
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// csrfToken is the token the UI hands a page on its first request.
func csrfToken(t *testing.T, uiURL string) string {
	t.Helper()
	resp, err := http.Get(uiURL + "/api/v1/settings")
	require.NoError(t, err)
	_ = resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "_csrf" {
			return c.Value
		}
	}
	t.Fatal("the web ui set no _csrf cookie")
	return ""
}

const startBody = `{"workflowId":"association/rebound","workflowType":{"name":"AssociationWorkflow"},"taskQueue":{"name":"stead"},` +
	`"input":{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"e30="}]}}`

// TestWebUIRefusesDNSRebinding replays what a page on evil.example does once
// its name resolves to 127.0.0.1: read the settings, then start a workflow,
// both with "Host: evil.example:<port>". Even with write actions on, both
// are refused and nothing starts; the same requests by the UI's own name
// work, and starting needs --ui-write.
func TestWebUIRefusesDNSRebinding(t *testing.T) {
	ctx := context.Background()
	for _, write := range []bool{true, false} {
		srv := start(t, devserver.Config{DataDir: t.TempDir(), UIWrite: write})
		u, err := url.Parse(srv.UIURL())
		require.NoError(t, err)
		evil := "evil.example:" + u.Port()
		token := csrfToken(t, srv.UIURL())
		startPath := "/api/v1/namespaces/default/workflows/" + url.PathEscape("association/rebound")

		code, body := uiRequest(t, srv.UIURL(), http.MethodGet, "/api/v1/settings", evil, "", "", "")
		assert.Equal(t, http.StatusForbidden, code, body)
		assert.NotContains(t, body, "Codec")
		code, body = uiRequest(t, srv.UIURL(), http.MethodPost, startPath, evil, "http://"+evil, token, startBody)
		assert.Equal(t, http.StatusForbidden, code, body)
		// A page elsewhere posting to the UI's real address is refused too.
		code, body = uiRequest(t, srv.UIURL(), http.MethodPost, startPath, u.Host, "http://evil.example", token, startBody)
		assert.Equal(t, http.StatusForbidden, code, body)

		c := dial(t, srv)
		_, err = c.DescribeWorkflowExecution(ctx, "association/rebound", "")
		var notFound *serviceerror.NotFound
		assert.ErrorAs(t, err, &notFound, "no request above may start the workflow")

		code, body = uiRequest(t, srv.UIURL(), http.MethodGet, "/api/v1/settings", "localhost:"+u.Port(), "", "", "")
		assert.Equal(t, http.StatusOK, code, body)
		code, body = uiRequest(t, srv.UIURL(), http.MethodPost, startPath, u.Host, srv.UIURL(), token, startBody)
		_, err = c.DescribeWorkflowExecution(ctx, "association/rebound", "")
		if write {
			assert.Equal(t, http.StatusOK, code, body)
			assert.NoError(t, err, "the UI's own page starts a workflow when writes are on")
		} else {
			assert.Equal(t, http.StatusMethodNotAllowed, code, body)
			assert.ErrorAs(t, err, &notFound, "write actions are off without UIWrite")
		}
		c.Close()
		require.NoError(t, srv.Stop())
	}
}
