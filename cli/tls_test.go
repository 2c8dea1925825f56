package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
)

// mapEnv is an environment for envconfig that holds only what a test says.
type mapEnv map[string]string

func (m mapEnv) Environ() []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func (m mapEnv) LookupEnv(k string) (string, bool) { v, ok := m[k]; return v, ok }

// optionsFor parses args as a connecting command's flags and builds its
// client options with env as Temporal's environment.
func optionsFor(t *testing.T, env mapEnv, args ...string) (client.Options, error) {
	t.Helper()
	if _, ok := env["TEMPORAL_CONFIG_FILE"]; !ok {
		env["TEMPORAL_CONFIG_FILE"] = filepath.Join(t.TempDir(), "none.toml")
	}
	var got client.Options
	var gotErr error
	app := &ucli.App{Name: "t", Flags: connectFlags(), Action: func(c *ucli.Context) error {
		got, gotErr = temporalOptions(c, env)
		return nil
	}}
	require.NoError(t, app.Run(append([]string{"t"}, args...)))
	return got, gotErr
}

// writeTestPEM writes a self-signed CA certificate and its key.
func writeTestPEM(t *testing.T) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certPath, keyPath
}

func TestTemporalOptions(t *testing.T) {
	cert, key := writeTestPEM(t)
	tlsOn := func(o client.Options) bool { return o.ConnectionOptions.TLS != nil && !o.ConnectionOptions.TLSDisabled }
	cases := []struct {
		name  string
		env   mapEnv
		args  []string
		check func(t *testing.T, o client.Options)
		fails string
	}{
		{name: "plaintext by default", args: []string{"--address", "h:1"}, check: func(t *testing.T, o client.Options) {
			require.Equal(t, "h:1", o.HostPort)
			require.False(t, tlsOn(o))
			require.Nil(t, o.Credentials)
		}},
		{name: "--tls uses the system roots", args: []string{"--tls"}, check: func(t *testing.T, o client.Options) {
			require.True(t, tlsOn(o))
			require.Nil(t, o.ConnectionOptions.TLS.RootCAs)
			require.Empty(t, o.ConnectionOptions.TLS.Certificates)
		}},
		{name: "a CA implies TLS", args: []string{"--tls-ca-path", cert, "--tls-server-name", "temporal.internal"}, check: func(t *testing.T, o client.Options) {
			require.True(t, tlsOn(o))
			require.NotNil(t, o.ConnectionOptions.TLS.RootCAs)
			require.Equal(t, "temporal.internal", o.ConnectionOptions.TLS.ServerName)
		}},
		{name: "mTLS", args: []string{"--tls-cert-path", cert, "--tls-key-path", key}, check: func(t *testing.T, o client.Options) {
			require.True(t, tlsOn(o))
			require.Len(t, o.ConnectionOptions.TLS.Certificates, 1)
		}},
		{name: "mTLS from Temporal's variables", env: mapEnv{"TEMPORAL_TLS_CLIENT_CERT_PATH": cert, "TEMPORAL_TLS_CLIENT_KEY_PATH": key, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": cert}, check: func(t *testing.T, o client.Options) {
			require.True(t, tlsOn(o))
			require.Len(t, o.ConnectionOptions.TLS.Certificates, 1)
			require.NotNil(t, o.ConnectionOptions.TLS.RootCAs)
		}},
		{name: "API key from the environment turns TLS on", env: mapEnv{"TEMPORAL_API_KEY": "k-123"}, check: func(t *testing.T, o client.Options) {
			require.NotNil(t, o.Credentials)
			require.True(t, tlsOn(o))
		}},
		{name: "API key over plaintext when told", env: mapEnv{"TEMPORAL_TLS": "false"}, args: []string{"--api-key", "k"}, check: func(t *testing.T, o client.Options) {
			require.NotNil(t, o.Credentials)
			require.True(t, o.ConnectionOptions.TLSDisabled)
		}},
		{name: "--tls=false overrides the environment", env: mapEnv{"TEMPORAL_TLS": "true"}, args: []string{"--tls=false"}, check: func(t *testing.T, o client.Options) {
			require.False(t, tlsOn(o))
		}},
		{name: "cert without key", args: []string{"--tls-cert-path", cert}, fails: "if either client cert or key path is present"},
		{name: "missing CA file", args: []string{"--tls-ca-path", "/nonexistent/ca.pem"}, fails: "configure TLS for Temporal"},
		{name: "contradiction", args: []string{"--tls=false", "--tls-ca-path", cert}, fails: "--tls-ca-path needs TLS, but --tls=false turns it off"},
		{name: "no skipping verification", env: mapEnv{"TEMPORAL_TLS": "true", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true"}, fails: "is not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.env == nil {
				c.env = mapEnv{}
			}
			o, err := optionsFor(t, c.env, c.args...)
			if c.fails != "" {
				require.ErrorContains(t, err, c.fails)
				require.False(t, strings.Contains(err.Error(), "\n"))
				return
			}
			require.NoError(t, err)
			c.check(t, o)
		})
	}
}

func TestTemporalProfile(t *testing.T) {
	// The address variable of the test process would outrank the file.
	t.Setenv("TEMPORAL_ADDRESS", "")
	os.Unsetenv("TEMPORAL_ADDRESS")
	file := filepath.Join(t.TempDir(), "temporal.toml")
	require.NoError(t, os.WriteFile(file, []byte(`
[profile.default]
address = "dev:7233"

[profile.prod]
address = "prod.example:7233"
namespace = "stead-prod"
api_key = "from-file"
[profile.prod.tls]
server_name = "temporal.prod"
`), 0o600))
	env := mapEnv{"TEMPORAL_CONFIG_FILE": file}

	o, err := optionsFor(t, env)
	require.NoError(t, err)
	require.Equal(t, "dev:7233", o.HostPort)
	require.Equal(t, "default", o.Namespace)

	o, err = optionsFor(t, env, "--profile", "prod")
	require.NoError(t, err)
	require.Equal(t, "prod.example:7233", o.HostPort)
	require.Equal(t, "stead-prod", o.Namespace)
	require.NotNil(t, o.Credentials)
	require.Equal(t, "temporal.prod", o.ConnectionOptions.TLS.ServerName)

	// Flags win over the profile.
	o, err = optionsFor(t, env, "--profile", "prod", "--address", "other:7233", "--namespace", "n2")
	require.NoError(t, err)
	require.Equal(t, "other:7233", o.HostPort)
	require.Equal(t, "n2", o.Namespace)

	_, err = optionsFor(t, env, "--profile", "nope")
	require.ErrorContains(t, err, "unable to find profile nope")
}
