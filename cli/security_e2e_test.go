package cli_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	ucli "github.com/urfave/cli/v2"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/proto"

	"github.com/stead-io/stead/cli"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/codec"
	"github.com/stead-io/stead/workflows"
)

// canary is a parameter value that must never reach Temporal in plaintext.
const canary = "canary-7f3a9c"

// rawHistory fetches a workflow's history as the server stores it, with a
// client that has no codec, as its protobuf wire bytes: every payload's
// data and metadata appear there verbatim.
func rawHistory(t *testing.T, c client.Client, id string) string {
	t.Helper()
	var events []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		events = append(events, ev)
	}
	require.NotEmpty(t, events, id)
	b, err := proto.Marshal(&historypb.History{Events: events})
	require.NoError(t, err)
	return string(b)
}

func TestEncryptedHistoryHidesParameters(t *testing.T) {
	h := setup(t)
	h.register("enc-1", 40)
	out := ok(t, "association", "create", "--name", "encrypted", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=enc-1",
		"--parameters", `{"commands":["echo `+canary+`","echo `+canary+` >&2"]}`, "--wait")
	id := execID(t, out)

	// With the key the CLI shows everything.
	outs := targetsJSON(t, "encrypted", id)
	require.Equal(t, contract.StatusSuccess, outs[0].Status)
	require.Equal(t, canary+"\n", outs[0].Output[0].Stdout)
	require.Equal(t, canary+"\n", outs[0].Output[0].Stderr)
	require.Contains(t, ok(t, "node", "list"), "enc-1")

	// As the server stores it, nothing shows.
	raw, err := client.Dial(client.Options{HostPort: frontend, Logger: quiet{}})
	require.NoError(t, err)
	defer raw.Close()
	exec := contract.ExecutionWorkflowID("encrypted", id)
	all := ""
	for _, wf := range []string{contract.AssociationWorkflowID("encrypted"), exec, "node/enc-1"} {
		all += rawHistory(t, raw, wf)
	}
	require.Contains(t, all, codec.Encoding, "payloads are marked encrypted")
	require.NotContains(t, all, canary)
	// Memos, read by visibility listing, are encrypted too.
	resp, err := raw.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: `WorkflowId = "node/enc-1"`})
	require.NoError(t, err)
	require.Len(t, resp.Executions, 1)
	memo := resp.Executions[0].GetMemo().GetFields()
	require.NotEmpty(t, memo)
	for _, p := range memo {
		require.Equal(t, codec.Encoding, string(p.GetMetadata()["encoding"]))
	}

	// Without the key, or with another, one clear line.
	t.Run("no key", func(t *testing.T) {
		t.Setenv(cli.EnvCodecKeyFile, "")
		t.Chdir(t.TempDir())
		fails(t, "no codec key is configured", "association", "targets", "encrypted", "--execution", id)
	})
	t.Run("wrong key", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.key")
		_, err := codec.CreateKeyFile(other, time.Now())
		require.NoError(t, err)
		fails(t, "which the keyring lacks", "association", "targets", "encrypted", "--execution", id, "--codec-key-file", other)
		// The same key id over different key bytes.
		b, err := os.ReadFile(other)
		require.NoError(t, err)
		k, err := codec.ParseKeyring(b)
		require.NoError(t, err)
		forged := filepath.Join(t.TempDir(), "forged.key")
		require.NoError(t, os.WriteFile(forged, []byte(strings.ReplaceAll(string(b), k.ActiveID()+":", codecKeys.ActiveID()+":")), 0o600))
		fails(t, "authentication failed", "association", "targets", "encrypted", "--execution", id, "--codec-key-file", forged)
	})

	t.Run("rotation", func(t *testing.T) {
		// A copy of the key file the run was written with, rotated.
		b, err := os.ReadFile(os.Getenv(cli.EnvCodecKeyFile))
		require.NoError(t, err)
		rotated := filepath.Join(t.TempDir(), "codec.key")
		require.NoError(t, os.WriteFile(rotated, b, 0o600))
		require.Contains(t, ok(t, "key", "rotate", "--key-file", rotated), "is now active; 1 older keys still decrypt")
		list := ok(t, "key", "list", "--key-file", rotated)
		require.Contains(t, list, codecKeys.ActiveID()+"\tdecrypts")
		require.NotContains(t, list, "=", "key list shows ids, never keys")
		var outs []cli.TargetOutput
		require.NoError(t, json.Unmarshal([]byte(ok(t, "association", "targets", "encrypted", "--execution", id, "--output", "json", "--codec-key-file", rotated)), &outs))
		require.Equal(t, canary+"\n", outs[0].Output[0].Stdout)
		fails(t, "already exists", "key", "generate", "--key-file", rotated)
	})

	t.Run("codec server", func(t *testing.T) {
		// A real encrypted payload from the server, decoded over HTTP.
		var enc *commonpb.Payload
		it := raw.GetWorkflowHistory(context.Background(), exec, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		ev, err := it.Next()
		require.NoError(t, err)
		enc = ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0]
		require.Equal(t, codec.Encoding, string(enc.Metadata["encoding"]))

		addr := freeAddr(t)
		const origin = "http://127.0.0.1:8233"
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		var out, errb syncBuffer
		go func() {
			done <- cli.Run(ctx, []string{"stead", "codec-server", "--listen", addr, "--key-file", os.Getenv(cli.EnvCodecKeyFile), "--origin", origin, "--token", "t0ken"}, &out, &errb)
		}()
		defer func() { cancel(); require.Equal(t, 0, <-done, errb.String()) }()
		require.Eventually(t, func() bool { return strings.Contains(out.String(), "codec server on") }, 10*time.Second, 20*time.Millisecond)
		require.NotContains(t, out.String(), "t0ken")

		post := func(auth string) *http.Response {
			body, err := json.Marshal(map[string]any{"payloads": []*commonpb.Payload{enc}})
			require.NoError(t, err)
			req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/decode", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", origin)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			return resp
		}
		resp := post("")
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		resp = post("Bearer t0ken")
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.Equal(t, origin, resp.Header.Get("Access-Control-Allow-Origin"))
		var decoded struct{ Payloads []*commonpb.Payload }
		require.NoError(t, json.Unmarshal(body, &decoded))
		require.Contains(t, string(decoded.Payloads[0].Data), canary)

		pre, err := http.NewRequest(http.MethodOptions, "http://"+addr+"/decode", nil)
		require.NoError(t, err)
		pre.Header.Set("Origin", origin)
		pre.Header.Set("Access-Control-Request-Method", "POST")
		presp, err := http.DefaultClient.Do(pre)
		require.NoError(t, err)
		presp.Body.Close()
		require.Equal(t, http.StatusNoContent, presp.StatusCode)
		require.Equal(t, origin, presp.Header.Get("Access-Control-Allow-Origin"))
	})
	ok(t, "association", "delete", "encrypted")
}

func TestCodecServerBadInput(t *testing.T) {
	key := os.Getenv(cli.EnvCodecKeyFile)
	fails(t, "origin \"localhost:8233\"", "codec-server", "--key-file", key, "--origin", "localhost:8233")
	fails(t, "--tls-cert-file and --tls-key-file go together", "codec-server", "--key-file", key, "--tls-cert-file", "x")
	fails(t, "read codec key file", "codec-server", "--key-file", "/nonexistent/key")
	fails(t, "codec key file", "node", "list", "--codec-key-file", "/nonexistent/key")
}

// syncBuffer is a bytes.Buffer safe for a command writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// devRun is `stead dev` running inside the test process.
type devRun struct {
	out, errb syncBuffer
	cancel    context.CancelFunc
	done      chan int
	stopped   bool
}

// startDev runs `stead dev ARGS...` in the test process and waits until its
// banner says Ready. It is stopped at the test's end if not before.
func startDev(t *testing.T, args ...string) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devRun{cancel: cancel, done: make(chan int, 1)}
	go func() { d.done <- cli.Run(ctx, append([]string{"stead", "dev"}, args...), &d.out, &d.errb) }()
	t.Cleanup(func() { d.stop(t) })
	require.Eventually(t, func() bool { return strings.Contains(d.out.String(), "Ready.") || len(d.done) > 0 }, 2*time.Minute, 50*time.Millisecond)
	require.Contains(t, d.out.String(), "Ready.", d.errb.String())
	return d
}

// stop ends the run, which must exit 0.
func (d *devRun) stop(t *testing.T) {
	if d.stopped {
		return
	}
	d.stopped = true
	d.cancel()
	require.Equal(t, 0, <-d.done, d.errb.String())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// steadIn runs the CLI with stdin.
func steadIn(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.RunWithInput(ctx, append([]string{"stead"}, args...), strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func TestNodeTrust(t *testing.T) {
	h := setup(t)
	pub, err := ssh.ParsePublicKey(mustAuthorized(t, h.sshd.HostKey).Marshal())
	require.NoError(t, err)
	fp := ssh.FingerprintSHA256(pub)
	port := fmt.Sprint(h.sshd.Port)
	ok(t, "node", "register", "--id", "trust-1", "--address", "127.0.0.50", "--port", port, "--user", h.sshd.User)

	// Declined, or no answer: nothing pinned.
	for _, answer := range []string{"n\n", "", "maybe\n"} {
		out, errs, code := steadIn(t, answer, "node", "trust", "trust-1")
		require.Equal(t, 1, code, out+errs)
		require.Contains(t, out, fp)
		require.Contains(t, errs, "host key not pinned (not confirmed)")
	}
	require.Contains(t, ok(t, "node", "describe", "trust-1"), "Host key")
	var st workflows.NodeState
	require.NoError(t, json.Unmarshal([]byte(ok(t, "node", "describe", "trust-1", "--output", "json")), &st))
	require.Empty(t, st.Node.HostKey)

	out, errs, code := steadIn(t, "yes\n", "node", "trust", "trust-1")
	require.Equal(t, 0, code, out+errs)
	require.Contains(t, out, "presents host key ssh-ed25519 "+fp)
	require.Contains(t, out, "pinned host key "+fp)
	require.NoError(t, json.Unmarshal([]byte(ok(t, "node", "describe", "trust-1", "--output", "json")), &st))
	require.Equal(t, h.sshd.HostKey, st.Node.HostKey)
	require.Contains(t, ok(t, "node", "trust", "trust-1"), "already pins host key "+fp)

	// The pinned key works: a run reaches the node.
	out = ok(t, "association", "create", "--name", "trusted", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=trust-1", "--parameters", "commands=echo trusted", "--wait")
	require.Equal(t, "trusted\n", targetsJSON(t, "trusted", execID(t, out))[0].Output[0].Stdout)
	ok(t, "association", "delete", "trusted")

	// A node whose pinned key changed is never re-pinned without --replace.
	wrongPub, _, err := ed25519Key()
	require.NoError(t, err)
	ok(t, "node", "register", "--id", "trust-2", "--address", "127.0.0.51", "--port", port, "--user", h.sshd.User, "--host-key", wrongPub)
	wrongFP := ssh.FingerprintSHA256(mustAuthorized(t, wrongPub))
	_, errs, code = steadIn(t, "y\n", "node", "trust", "trust-2")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "presents host key "+fp+" but "+wrongFP+" is pinned")
	require.Contains(t, errs, "--replace")
	require.Equal(t, 1, strings.Count(errs, "\n"))
	fails(t, "not the expected SHA256:nope", "node", "trust", "trust-2", "--replace", "--fingerprint", "SHA256:nope")
	require.NoError(t, json.Unmarshal([]byte(ok(t, "node", "describe", "trust-2", "--output", "json")), &st))
	require.Equal(t, wrongPub, st.Node.HostKey, "still the old key")

	out = ok(t, "node", "trust", "trust-2", "--replace", "--fingerprint", fp)
	require.Contains(t, out, "pinned:    "+wrongFP)
	require.Contains(t, out, "presented: ssh-ed25519 "+fp)
	require.NoError(t, json.Unmarshal([]byte(ok(t, "node", "describe", "trust-2", "--output", "json")), &st))
	require.Equal(t, h.sshd.HostKey, st.Node.HostKey)

	ok(t, "node", "register", "--id", "trust-3", "--transport", "local")
	fails(t, "uses the local transport", "node", "trust", "trust-3", "--yes")
	fails(t, "node ghost is not registered", "node", "trust", "ghost", "--yes")
	fails(t, "fingerprint \"abc\"", "node", "trust", "trust-1", "--fingerprint", "abc")
	for _, id := range []string{"trust-1", "trust-2", "trust-3"} {
		ok(t, "node", "deregister", id)
	}
}

func mustAuthorized(t *testing.T, s string) ssh.PublicKey {
	t.Helper()
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	require.NoError(t, err)
	return k
}

// ed25519Key is a fresh host key no sshd has, in authorized_keys form.
func ed25519Key() (string, ssh.PublicKey, error) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, err
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", nil, err
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))), k, nil
}

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	ca, clientCert, clientKey string
	server                    tls.Certificate
	pool                      *x509.CertPool
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stead test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	issue := func(serial int64, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: fmt.Sprint("leaf-", serial)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		require.NoError(t, err)
		kder, err := x509.MarshalECPrivateKey(k)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	p := testPKI{ca: filepath.Join(dir, "ca.pem"), clientCert: filepath.Join(dir, "client.pem"), clientKey: filepath.Join(dir, "client-key.pem"), pool: x509.NewCertPool()}
	p.pool.AddCert(caCert)
	require.NoError(t, os.WriteFile(p.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600))
	sc, sk := issue(2, x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.server, err = tls.X509KeyPair(sc, sk)
	require.NoError(t, err)
	cc, ck := issue(3, x509.ExtKeyUsageClientAuth, nil)
	require.NoError(t, os.WriteFile(p.clientCert, cc, 0o600))
	require.NoError(t, os.WriteFile(p.clientKey, ck, 0o600))
	return p
}

// tlsFrontend terminates TLS (requiring a client certificate signed by the
// test CA) in front of the plaintext test server, as a TLS-enabled
// Temporal frontend or a TLS load balancer would.
func tlsFrontend(t *testing.T, p testPKI) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12,
	})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				up, err := net.Dial("tcp", frontend)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return l.Addr().String()
}

func TestTemporalTLS(t *testing.T) {
	p := newTestPKI(t)
	addr := tlsFrontend(t, p)
	mtls := []string{"--address", addr, "--tls-ca-path", p.ca, "--tls-cert-path", p.clientCert, "--tls-key-path", p.clientKey}
	ok(t, append([]string{"node", "list"}, mtls...)...)
	ok(t, append([]string{"association", "list"}, mtls...)...)

	// The same through Temporal's environment variables.
	t.Run("environment", func(t *testing.T) {
		t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", p.ca)
		t.Setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", p.clientCert)
		t.Setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", p.clientKey)
		ok(t, "node", "list", "--address", addr)
	})

	fails(t, "certificate is not trusted", "node", "list", "--address", addr, "--tls", "--tls-cert-path", p.clientCert, "--tls-key-path", p.clientKey)
	fails(t, "connect to Temporal at "+addr, "node", "list", "--address", addr, "--tls-ca-path", p.ca)
	fails(t, "the server does not speak TLS on this port", "node", "list", "--address", frontend, "--tls")
	fails(t, "the server does not speak TLS on this port", "node", "list", "--address", frontend, "--api-key", "k-1")
}

func TestDevQuickStart(t *testing.T) {
	// Run as the quick start does: `stead dev` in a directory, the CLI in
	// the same directory with no key flag, then in any other directory with
	// no flag at all.
	devDir := t.TempDir()
	t.Chdir(devDir)
	t.Setenv(cli.EnvCodecKeyFile, "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	frontendAddr, uiAddr := freeAddr(t), freeAddr(t)
	_, fport, _ := net.SplitHostPort(frontendAddr)
	_, uport, _ := net.SplitHostPort(uiAddr)
	dev := startDev(t, "--port", fport, "--ui-port", uport, "--log-level", "error")
	require.Empty(t, dev.errb.String())
	out := &dev.out

	keyFile := filepath.Join(devDir, ".stead", "codec.key")
	fi, err := os.Stat(keyFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	banner := out.String()
	require.Contains(t, banner, "Payloads: encrypted, key ")
	require.Contains(t, banner, "Codec:    http://127.0.0.1:")
	require.Contains(t, banner, "Web UI:   http://"+uiAddr+" (read-only")
	require.Contains(t, banner, "export TEMPORAL_ADDRESS="+frontendAddr+" TEMPORAL_NAMESPACE=default "+cli.EnvCodecKeyFile+"="+keyFile)

	// The CLI beside it finds the key and reads the encrypted node memo.
	require.Contains(t, ok(t, "node", "list", "--address", frontendAddr), "local")
	raw, err := client.Dial(client.Options{HostPort: frontendAddr, Logger: quiet{}})
	require.NoError(t, err)
	defer raw.Close()
	require.Contains(t, rawHistory(t, raw, "node/local"), codec.Encoding)

	// From another directory, with neither address nor key given, the CLI
	// finds the running dev through the profile it wrote.
	t.Chdir(t.TempDir())
	t.Setenv("TEMPORAL_ADDRESS", "")
	require.NoError(t, os.Unsetenv("TEMPORAL_ADDRESS"))
	require.Contains(t, ok(t, "node", "list"), "local")

	// The Web UI is told where to decode, and that endpoint admits the UI.
	resp, err := http.Get("http://" + uiAddr + "/api/v1/settings")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	var settings struct {
		Codec               struct{ Endpoint string }
		DisableWriteActions bool
	}
	require.NoError(t, json.Unmarshal(body, &settings), string(body))
	require.True(t, settings.DisableWriteActions, "write actions are off without --ui-write")
	endpoint, err := url.Parse(settings.Codec.Endpoint)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", endpoint.Hostname(), string(body))
	require.Len(t, strings.Trim(endpoint.Path, "/"), 32, "the endpoint carries its per-start token")
	require.NotContains(t, banner, endpoint.Path, "the banner does not print the token")
	pre, err := http.NewRequest(http.MethodOptions, settings.Codec.Endpoint+"/decode", nil)
	require.NoError(t, err)
	pre.Header.Set("Origin", "http://"+uiAddr)
	presp, err := http.DefaultClient.Do(pre)
	require.NoError(t, err)
	presp.Body.Close()
	require.Equal(t, "http://"+uiAddr, presp.Header.Get("Access-Control-Allow-Origin"))

	// Only with the token, and only by its own address, does it decode.
	decode := func(u, host string) int {
		req, err := http.NewRequest(http.MethodPost, u+"/decode", strings.NewReader(`{"payloads":[]}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "http://"+uiAddr)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, decode(settings.Codec.Endpoint, ""))
	require.Equal(t, http.StatusNotFound, decode("http://"+endpoint.Host, ""), "no token")
	require.Equal(t, http.StatusNotFound, decode("http://"+endpoint.Host+"/"+strings.Repeat("0", 32), ""), "wrong token")
	require.Equal(t, http.StatusForbidden, decode(settings.Codec.Endpoint, "evil.example:"+endpoint.Port()), "rebinding")

	// Stopped, dev takes its profile away.
	dev.stop(t)
	profiles, err := filepath.Glob(filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "stead", "*.json"))
	require.NoError(t, err)
	require.Empty(t, profiles)
}

// TestDevPortBusy: a taken port is named, with the way out.
func TestDevPortBusy(t *testing.T) {
	t.Chdir(t.TempDir())
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	fails(t, "is not available: listen tcp 127.0.0.1:"+port+": bind: address already in use (choose free ports with --port and --ui-port, e.g. make run ARGS='--port 17233 --ui-port 18233')",
		"dev", "--port", port, "--ui-port", "-1", "--no-local-node", "--no-worker")
}

// TestDevOnEveryInterfaceSaysSo: with --ip 0.0.0.0 the banner says the
// frontend and the UI listen on every interface (and gives the address to
// dial here), and a warning says they are unauthenticated.
func TestDevOnEveryInterfaceSaysSo(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	_, fport, _ := net.SplitHostPort(freeAddr(t))
	_, uport, _ := net.SplitHostPort(freeAddr(t))
	dev := startDev(t, "--ip", "0.0.0.0", "--port", fport, "--ui-port", uport, "--no-local-node", "--no-worker", "--no-encryption")
	dev.stop(t)
	out, errb := &dev.out, &dev.errb
	require.Contains(t, out.String(), "Temporal: 0.0.0.0:"+fport+", every interface; here 127.0.0.1:"+fport)
	require.Contains(t, out.String(), "Web UI:   http://0.0.0.0:"+uport+", every interface; here http://127.0.0.1:"+uport)
	require.Contains(t, errb.String(), "listen beyond loopback, without authentication")
}

// TestFlagUsageHasNoBackquotes: urfave/cli turns the first `quoted` word of
// a flag's usage into its value placeholder, so help would print
// "--codec-key-file stead dev".
func TestFlagUsageHasNoBackquotes(t *testing.T) {
	var walk func(prefix string, cmds []*ucli.Command)
	walk = func(prefix string, cmds []*ucli.Command) {
		for _, c := range cmds {
			for _, f := range c.Flags {
				if u, ok := f.(interface{ GetUsage() string }); ok {
					require.NotContains(t, u.GetUsage(), "`", "%s %s --%s", prefix, c.Name, f.Names()[0])
				}
			}
			walk(prefix+" "+c.Name, c.Subcommands)
		}
	}
	walk("stead", cli.New(io.Discard, io.Discard).Commands)
}
