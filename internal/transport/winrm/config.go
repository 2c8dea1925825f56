package winrm

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stead-io/stead/internal/transport"
)

// Kind is the transport name nodes give to be reached over WinRM.
const Kind = "winrm"

// Ports WinRM listens on by default.
const (
	// HTTPSPort is the port dialled for a target that gives none.
	HTTPSPort = 5986
	// HTTPPort is the default port of a target that sets InsecureHTTP.
	HTTPPort = 5985
)

// Authentication schemes a credential may use.
const (
	// AuthNTLM is NTLMv2 (the default): the password never crosses the wire.
	AuthNTLM = "ntlm"
	// AuthBasic sends the password in the request; only over HTTPS.
	AuthBasic = "basic"
	// AuthCertificate presents a client certificate in the TLS handshake
	// (WinRM's certificate authentication, mapped to a local user on the
	// node); only over HTTPS. No password exists.
	AuthCertificate = "cert"
)

// Credential is one named WinRM credential: the password of the node's
// login user, or the client certificate mapped to it, and how to present
// it.
type Credential struct {
	// Auth is AuthNTLM, AuthBasic, AuthCertificate or AuthKerberos.
	Auth string
	// PasswordFile holds the password, on its first line; for
	// AuthCertificate, the PEM certificate and its private key; for
	// AuthKerberos, the principal and the files of its key (see
	// ParseKerberosCredential).
	PasswordFile string
}

// Config is the worker's WinRM configuration.
type Config struct {
	// Credentials maps a credential name to its credential.
	Credentials map[string]Credential
	// CAFile is an optional PEM file of certificate authorities trusted for
	// nodes that pin no certificate; without it the system's roots are.
	CAFile string
	// ConnectTimeout bounds the TCP connect, the TLS handshake and opening
	// the shell; 0 means 10s.
	ConnectTimeout time.Duration
}

// ParseCredentialFlags turns repeated "NAME=[ntlm:|basic:|cert:|kerberos:]PATH"
// flag values into Config.Credentials, so every worker entry point parses
// them alike. PATH is a file holding the password (for cert:, the PEM
// client certificate and its key; for kerberos:, the principal and its
// keytab or password file); the scheme defaults to ntlm.
func ParseCredentialFlags(values []string) (map[string]Credential, error) {
	paths, err := transport.ParseCredentialFlags(values)
	if err != nil {
		return nil, fmt.Errorf("parse winrm credential: %w", err)
	}
	creds := make(map[string]Credential, len(paths))
	for name, v := range paths {
		c := Credential{Auth: AuthNTLM, PasswordFile: v}
		if scheme, path, ok := strings.Cut(v, ":"); ok && knownAuth(scheme) {
			c = Credential{Auth: scheme, PasswordFile: path}
		}
		if c.PasswordFile == "" {
			return nil, fmt.Errorf("parse winrm credential %q: want NAME=[ntlm:|basic:|cert:|kerberos:]PATH", name)
		}
		creds[name] = c
	}
	return creds, nil
}

// knownAuth reports whether scheme is one a credential may use.
func knownAuth(scheme string) bool {
	return scheme == AuthNTLM || scheme == AuthBasic || scheme == AuthCertificate || scheme == AuthKerberos
}

// secret is a loaded credential.
type secret struct {
	auth     string
	password string
	cert     *tls.Certificate // AuthCertificate's
	krb      *kerberosLogin   // AuthKerberos's
}

// loadSecrets reads every password file, refusing one that others may
// read, and reports every bad credential at once. Errors name files, never
// their contents.
func loadSecrets(creds map[string]Credential) (map[string]secret, error) {
	out := make(map[string]secret, len(creds))
	var errs []error
	for name, c := range creds {
		if !knownAuth(c.Auth) {
			errs = append(errs, fmt.Errorf("load winrm credential %q: auth %q: want ntlm, basic, cert or kerberos", name, c.Auth))
			continue
		}
		if c.Auth == AuthKerberos {
			// The file names the secret files, which loadKerberos checks.
			krb, err := loadKerberos(c.PasswordFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("load winrm credential %q: %w", name, err))
				continue
			}
			out[name] = secret{auth: c.Auth, krb: krb}
			continue
		}
		fi, err := os.Stat(c.PasswordFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("load winrm credential %q: %w", name, err))
			continue
		}
		if fi.Mode().Perm()&0o077 != 0 {
			errs = append(errs, fmt.Errorf("load winrm credential %q: %s is readable by group or others (mode %04o); chmod 600 it", name, c.PasswordFile, fi.Mode().Perm()))
			continue
		}
		data, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("load winrm credential %q: %w", name, err))
			continue
		}
		if c.Auth == AuthCertificate {
			// One PEM file: the certificate (chain) and its private key.
			cert, err := tls.X509KeyPair(data, data)
			if err != nil {
				errs = append(errs, fmt.Errorf("load winrm credential %q: %s: want a PEM certificate and its private key: %w", name, c.PasswordFile, err))
				continue
			}
			out[name] = secret{auth: c.Auth, cert: &cert}
			continue
		}
		line, _, _ := strings.Cut(string(data), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			errs = append(errs, fmt.Errorf("load winrm credential %q: %s holds no password on its first line", name, c.PasswordFile))
			continue
		}
		out[name] = secret{auth: c.Auth, password: line}
	}
	return out, errors.Join(errs...)
}

// loadCAs reads a PEM file of certificate authorities.
func loadCAs(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read winrm ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("read winrm ca file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// FingerprintPrefix starts a pinned certificate fingerprint.
const FingerprintPrefix = "sha256:"

// Fingerprint is how Stead writes a certificate's SHA-256 fingerprint, the
// form a node pins: "sha256:" and 64 lowercase hex digits.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return FingerprintPrefix + hex.EncodeToString(sum[:])
}

// ParseFingerprint reads a pinned fingerprint: "sha256:" then 64 hex
// digits, upper or lower case, optionally separated by colons as openssl
// prints them. It returns the canonical form.
func ParseFingerprint(s string) (string, error) {
	rest, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(s)), FingerprintPrefix)
	if !ok {
		return "", fmt.Errorf("certificate fingerprint %q: want sha256:<64 hex digits>", s)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(rest, ":", ""))
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("certificate fingerprint %q: want sha256:<64 hex digits>", s)
	}
	return FingerprintPrefix + hex.EncodeToString(b), nil
}
