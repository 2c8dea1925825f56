package cli

import (
	"errors"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
)

// securityFlags say how to reach a secured Temporal: TLS, mTLS, an API key,
// a profile of Temporal's own config file, and Stead's payload keys. Their
// environment variables are Temporal's (TEMPORAL_TLS,
// TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_CLIENT_CERT_PATH,
// TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_API_KEY,
// TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE), read by the SDK's envconfig, so a
// machine set up for the temporal CLI works for stead unchanged.
func securityFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.BoolFlag{Name: "tls", Usage: "connect to Temporal over TLS (implied by the other --tls-* flags and --api-key; --tls=false forces plaintext)"},
		&ucli.StringFlag{Name: "tls-ca-path", Usage: "PEM file of the CA that signs the Temporal server's certificate (default: the system's roots)"},
		&ucli.StringFlag{Name: "tls-cert-path", Usage: "PEM client certificate for mTLS"},
		&ucli.StringFlag{Name: "tls-key-path", Usage: "PEM client private key for mTLS"},
		&ucli.StringFlag{Name: "tls-server-name", Usage: "server name to verify the Temporal server's certificate against (default: the address's host)"},
		&ucli.StringFlag{Name: "api-key", Usage: "Temporal API key (prefer TEMPORAL_API_KEY: flags show in the process list)"},
		&ucli.StringFlag{Name: "profile", Usage: "profile of Temporal's client config file (default TEMPORAL_PROFILE, else \"default\")"},
		codecKeyFileFlag(),
	}
}

// temporalOptions builds the client options of a connecting command:
// Temporal's profile file, then its TEMPORAL_* variables (env), then the
// command's flags, each overriding the one before.
func temporalOptions(c *ucli.Context, env envconfig.EnvLookup) (client.Options, error) {
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		ConfigFileProfile: c.String("profile"),
		EnvLookup:         env,
	})
	if err != nil {
		return client.Options{}, fmt.Errorf("load Temporal client profile: %w", err)
	}
	if prof.Address == "" && !c.IsSet(temporalAddress) {
		// Nothing says where: a running `stead dev` of this user, if any.
		if dev, _, ok := readDevProfile(); ok {
			prof.Address = dev.Address
			if prof.Namespace == "" && !c.IsSet("namespace") {
				prof.Namespace = dev.Namespace
			}
		}
	}
	if c.IsSet(temporalAddress) || prof.Address == "" {
		prof.Address = c.String(temporalAddress)
	}
	if c.IsSet("namespace") || prof.Namespace == "" {
		prof.Namespace = c.String("namespace")
	}
	if c.IsSet("api-key") {
		prof.APIKey = c.String("api-key")
	}
	enableTLS := func() *envconfig.ClientConfigTLS {
		if prof.TLS == nil {
			prof.TLS = &envconfig.ClientConfigTLS{}
		}
		prof.TLS.Disabled = false
		return prof.TLS
	}
	for _, name := range []string{"tls-ca-path", "tls-cert-path", "tls-key-path", "tls-server-name"} {
		if !c.IsSet(name) {
			continue
		}
		if c.IsSet("tls") && !c.Bool("tls") {
			return client.Options{}, fmt.Errorf("--%s needs TLS, but --tls=false turns it off", name)
		}
		t := enableTLS()
		switch v := c.String(name); name {
		case "tls-ca-path":
			t.ServerCACertPath = v
		case "tls-cert-path":
			t.ClientCertPath = v
		case "tls-key-path":
			t.ClientKeyPath = v
		default:
			t.ServerName = v
		}
	}
	if c.IsSet("tls") {
		if c.Bool("tls") {
			enableTLS()
		} else {
			prof.TLS = &envconfig.ClientConfigTLS{Disabled: true}
		}
	}
	if prof.TLS != nil && prof.TLS.DisableHostVerification {
		// TLS without verifying the server is no protection against the
		// network attacker it exists for.
		return client.Options{}, errors.New("configure TLS for Temporal: skipping server verification (TEMPORAL_TLS_DISABLE_HOST_VERIFICATION) is not supported; trust the server's CA with --tls-ca-path instead")
	}
	opts, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("configure TLS for Temporal: %w", err)
	}
	return opts, nil
}

// tlsHint explains the usual cause of a failed dial when TLS is on one side
// only, since gRPC's own words for it rarely say so.
func tlsHint(opts client.Options, err error) string {
	msg := err.Error()
	tlsOn := opts.ConnectionOptions.TLS != nil && !opts.ConnectionOptions.TLSDisabled
	switch {
	case tlsOn && strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "TLS handshake failed: the server does not speak TLS on this port (connect without --tls, TEMPORAL_TLS or an API key, or use the server's TLS port)"
	case tlsOn && strings.Contains(msg, "certificate"):
		return "TLS handshake failed: the server's certificate is not trusted (--tls-ca-path, --tls-server-name)"
	case tlsOn && (strings.Contains(msg, "tls:") || strings.Contains(msg, "authentication handshake failed")):
		return "TLS handshake failed"
	case !tlsOn && (strings.Contains(msg, "server preface") || strings.Contains(msg, "frame too large")):
		return "the server may require TLS (--tls, --tls-ca-path, TEMPORAL_TLS)"
	}
	return ""
}
