package cli_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/stead-io/stead/internal/testsshd"
)

// scrape reads a worker's /metrics.
func scrape(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// sample is the value of one series in a scrape, 0 when absent.
func sample(t *testing.T, text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	return v
}

// The counters of /metrics move during a run: nodes, steps, durations,
// executions, dial errors, pooled connections and the Temporal SDK's.
func TestMetricsMoveDuringARun(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	sshd := testsshd.Start(t)
	h := &harness{t: t, sshd: sshd, tag: "metrics-run"}
	stop := startWorkerCommand(t, sshd, "--metrics-address", addr, "--output-dir", t.TempDir())
	defer stop()
	require.Eventually(t, func() bool {
		_, err := http.Get("http://" + addr + "/metrics")
		return err == nil
	}, time.Minute, 100*time.Millisecond, "the worker serves its metrics")
	require.Zero(t, sample(t, scrape(t, addr), `stead_nodes_total{status="Success"}`))

	h.register("metrics-1", 101)
	h.register("metrics-2", 102)
	ok(t, "association", "create", "--name", "metrics-run", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:role,Values=metrics-run", "--parameters", `{"commands":["echo one"]}`, "--wait")
	ok(t, "association", "delete", "metrics-run") // the next node would match it too
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	h.register("metrics-mitm", 103, "--host-key", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))))
	_, _, code := stead(t, "association", "create", "--name", "metrics-mitm", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=metrics-mitm", "--parameters", `{"commands":["echo no"]}`, "--wait")
	require.Equal(t, 1, code)

	after := scrape(t, addr)
	require.Equal(t, 2.0, sample(t, after, `stead_nodes_total{status="Success"}`), after)
	require.Equal(t, 1.0, sample(t, after, `stead_nodes_total{status="Undeliverable"}`))
	require.Equal(t, 2.0, sample(t, after, `stead_steps_total{status="Success"}`))
	require.Equal(t, 2.0, sample(t, after, `stead_step_duration_seconds_count{status="Success"}`))
	require.Equal(t, 1.0, sample(t, after, `stead_executions_total{status="Success"}`))
	require.Equal(t, 1.0, sample(t, after, `stead_executions_total{status="Failed"}`))
	require.GreaterOrEqual(t, sample(t, after, `stead_dial_errors_total{kind="HostKeyMismatch"}`), 1.0)
	require.Equal(t, 2.0, sample(t, after, `stead_pooled_connections`), "the two good nodes' connections wait in the pool")
	require.Regexp(t, `(?m)^temporal_activity_execution_latency_count\{.*activity_type="RunBatch".*\} [1-9]`, after, "the SDK's metrics")
	require.Contains(t, after, "temporal_request")
	ok(t, "association", "delete", "metrics-mitm")
}
