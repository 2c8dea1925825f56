package winrm

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/krberror"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/stead-io/stead/internal/transport"
)

// AuthKerberos authenticates as a domain principal with a Kerberos service
// ticket for the node (SPNEGO, HTTP Negotiate), as WinRM does in a domain.
// The credential's file names the principal and its keytab or password
// file; see ParseKerberosCredential.
const AuthKerberos = "kerberos"

// DefaultKrb5Conf is the Kerberos configuration a kerberos credential uses
// when its file names none.
const DefaultKrb5Conf = "/etc/krb5.conf"

// KerberosCredential is what a kerberos credential's file says. The file
// holds no secret itself: it names the files that do, so it can be read by
// whoever manages the worker's configuration.
type KerberosCredential struct {
	// User and Realm are the principal, user@REALM.
	User, Realm string
	// Keytab is the keytab holding the principal's keys; PasswordFile the
	// file with its password on the first line. Exactly one is set.
	Keytab, PasswordFile string
	// Krb5Conf is the Kerberos configuration naming the realm's KDCs.
	Krb5Conf string
}

// Principal is the credential's principal as Kerberos writes it.
func (k KerberosCredential) Principal() string { return k.User + "@" + k.Realm }

// kerberosKeys are the keys a kerberos credential's file may set.
const kerberosKeys = "principal, keytab, password_file or krb5_conf"

// ParseKerberosCredential reads a kerberos credential's file: KEY=value
// lines, blank lines and # comments ignored, with the keys
//
//	principal=stead@CORP.EXAMPLE.COM    (required; user@REALM)
//	keytab=/etc/stead/stead.keytab      (either this,
//	password_file=/etc/stead/stead.pw   or this: the password on its first line)
//	krb5_conf=/etc/krb5.conf            (optional; the default)
//
// A relative path is relative to dir, the file's directory. A key and its
// value are trimmed of spaces; each key may appear once.
func ParseKerberosCredential(data []byte, dir string) (KerberosCredential, error) {
	var k KerberosCredential
	var principal string
	seen := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok {
			return KerberosCredential{}, fmt.Errorf("line %d: want KEY=value", i+1)
		}
		if key != "principal" && key != "keytab" && key != "password_file" && key != "krb5_conf" {
			return KerberosCredential{}, fmt.Errorf("line %d: unknown key %q: want %s", i+1, key, kerberosKeys)
		}
		if seen[key] {
			return KerberosCredential{}, fmt.Errorf("line %d: %s is set twice", i+1, key)
		}
		seen[key] = true
		if value == "" {
			return KerberosCredential{}, fmt.Errorf("line %d: %s is empty", i+1, key)
		}
		if key != "principal" && !filepath.IsAbs(value) {
			value = filepath.Join(dir, value)
		}
		switch key {
		case "principal":
			principal = value
		case "keytab":
			k.Keytab = value
		case "password_file":
			k.PasswordFile = value
		case "krb5_conf":
			k.Krb5Conf = value
		}
	}
	at := strings.LastIndex(principal, "@")
	switch {
	case principal == "":
		return KerberosCredential{}, errors.New("no principal: want principal=user@REALM")
	case at <= 0 || at == len(principal)-1 || strings.ContainsAny(principal, " \t\r"):
		return KerberosCredential{}, fmt.Errorf("principal %q: want user@REALM", principal)
	case k.Keytab == "" && k.PasswordFile == "":
		return KerberosCredential{}, errors.New("neither keytab nor password_file is set: want one")
	case k.Keytab != "" && k.PasswordFile != "":
		return KerberosCredential{}, errors.New("both keytab and password_file are set: want one")
	}
	k.User, k.Realm = principal[:at], principal[at+1:]
	if k.Krb5Conf == "" {
		k.Krb5Conf = DefaultKrb5Conf
	}
	return k, nil
}

// kerberosLogin is a loaded kerberos credential: a Kerberos client that
// holds the principal's key, its ticket-granting ticket and the service
// tickets it got, shared by every node the credential reaches.
type kerberosLogin struct {
	principal string
	client    *client.Client
	// mu serialises logins to the KDC: the client records what the KDC
	// asked for in one login without a lock of its own.
	mu sync.Mutex
}

// loadKerberos reads a kerberos credential's file and the files it names.
// The keytab and password file must be private to the worker's user, as
// every secret file is; errors name files, never their contents.
func loadKerberos(path string) (*kerberosLogin, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParseKerberosCredential(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg, err := config.Load(k.Krb5Conf)
	var unsupported config.UnsupportedDirective
	if err != nil && !errors.As(err, &unsupported) {
		// Directives gokrb5 does not know are ignored, as MIT's own
		// libraries ignore the ones they do not.
		return nil, fmt.Errorf("kerberos configuration %s: %w", k.Krb5Conf, err)
	}
	if !cfg.LibDefaults.DNSLookupKDC {
		if _, _, err := cfg.GetKDCs(k.Realm, true); err != nil {
			return nil, fmt.Errorf("kerberos configuration %s names no KDC for realm %s, and dns_lookup_kdc is off", k.Krb5Conf, k.Realm)
		}
	}
	secretFile := k.PasswordFile
	if k.Keytab != "" {
		secretFile = k.Keytab
	}
	fi, err := os.Stat(secretFile)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by group or others (mode %04o); chmod 600 it", secretFile, fi.Mode().Perm())
	}
	// Without FAST armour, as Windows clients ask for tickets: FAST needs
	// a ticket of its own first, which a password login has not got.
	noFAST := client.DisablePAFXFAST(true)
	login := &kerberosLogin{principal: k.Principal()}
	if k.Keytab != "" {
		kt, err := keytab.Load(k.Keytab)
		if err != nil {
			return nil, fmt.Errorf("keytab %s: %w", k.Keytab, err)
		}
		if !keytabHolds(kt, k.User, k.Realm) {
			return nil, fmt.Errorf("keytab %s holds no key for %s", k.Keytab, k.Principal())
		}
		login.client = client.NewWithKeytab(k.User, k.Realm, kt, cfg, noFAST)
		return login, nil
	}
	password, err := os.ReadFile(k.PasswordFile)
	if err != nil {
		return nil, err
	}
	line, _, _ := strings.Cut(string(password), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return nil, fmt.Errorf("%s holds no password on its first line", k.PasswordFile)
	}
	login.client = client.NewWithPassword(k.User, k.Realm, line, cfg, noFAST)
	return login, nil
}

// keytabHolds reports whether kt has a key for user@realm.
func keytabHolds(kt *keytab.Keytab, user, realm string) bool {
	for _, e := range kt.Entries {
		if e.Principal.Realm == realm && strings.Join(e.Principal.Components, "/") == user {
			return true
		}
	}
	return false
}

// negotiate is the Authorization header for one request to the service
// spn: a fresh SPNEGO token carrying an AP-REQ with the service ticket.
// The tickets are cached; the KDC is asked only for the first, or when
// one expires.
func (k *kerberosLogin) negotiate(spn string) (string, error) {
	k.mu.Lock()
	err := k.client.AffirmLogin()
	k.mu.Unlock()
	if err != nil {
		return "", k.kdcError(err, spn)
	}
	token, err := spnego.SPNEGOClient(k.client, spn).InitSecContext()
	if err != nil {
		return "", k.kdcError(err, spn)
	}
	b, err := token.Marshal()
	if err != nil {
		return "", &kerberosError{kind: transport.AuthFailed, msg: fmt.Sprintf("kerberos: encode the SPNEGO token for %s: %v", spn, err)}
	}
	return "Negotiate " + base64.StdEncoding.EncodeToString(b), nil
}

// kerberosError is a failure to get a ticket, classified: a KDC that
// refused the principal is AuthFailed, one that did not answer
// Unreachable. Its message is one line naming the principal and the
// problem, never a key or password.
type kerberosError struct {
	kind transport.ErrorKind
	msg  string
}

func (e *kerberosError) Error() string { return e.msg }

// krbCode finds the Kerberos error code gokrb5 quotes in its errors, as
// "(24) KDC_ERR_PREAUTH_FAILED".
var krbCode = regexp.MustCompile(`\((\d+)\) ((?:KDC|KRB)_[A-Z0-9_]+)`)

// kdcError classifies what gokrb5 reported while logging in as k or
// getting the ticket for spn. gokrb5 keeps no error types past its own
// wrapping (and formats some with %v), only its root cause and the KDC's
// error code in the text, so that is what is read.
func (k *kerberosLogin) kdcError(err error, spn string) error {
	text := err.Error()
	if m := krbCode.FindStringSubmatch(text); m != nil {
		code, _ := strconv.Atoi(m[1])
		return &kerberosError{kind: transport.AuthFailed, msg: "kerberos: " + k.refusal(int32(code), m[2], spn)}
	}
	switch {
	case strings.Contains(text, "password/keytab incorrect"), strings.Contains(text, "[Root cause: "+krberror.DecryptingError+"]"):
		// A KDC that does not require pre-authentication answers anyone;
		// the answer does not decrypt with a wrong key.
		return &kerberosError{kind: transport.AuthFailed, msg: fmt.Sprintf("kerberos: the KDC's answer for %s does not decrypt: wrong password or key", k.principal)}
	case strings.Contains(text, "[Root cause: "+krberror.NetworkingError+"]"):
		return &kerberosError{kind: transport.Unreachable, msg: fmt.Sprintf("kerberos: no KDC of realm %s%s answered for %s: %s", k.client.Credentials.Domain(), k.kdcs(), k.principal, lastCause(text))}
	}
	return &kerberosError{kind: transport.AuthFailed, msg: fmt.Sprintf("kerberos: get a ticket for %s as %s: %s", spn, k.principal, innermost(text))}
}

// refusal says in words why the KDC refused, for the codes an operator
// can act on.
func (k *kerberosLogin) refusal(code int32, name, spn string) string {
	switch code {
	case 24, 31: // KDC_ERR_PREAUTH_FAILED, KRB_AP_ERR_BAD_INTEGRITY
		return fmt.Sprintf("the KDC refused %s: wrong password or key (%s)", k.principal, name)
	case 6: // KDC_ERR_C_PRINCIPAL_UNKNOWN
		return fmt.Sprintf("the KDC knows no principal %s (%s)", k.principal, name)
	case 7: // KDC_ERR_S_PRINCIPAL_UNKNOWN
		return fmt.Sprintf("the KDC knows no service principal %s: a node is reached by the DNS name its SPN is registered under, not an IP address or an alias (%s)", spn, name)
	case 18: // KDC_ERR_CLIENT_REVOKED
		return fmt.Sprintf("the KDC refused %s: the account is disabled or locked out (%s)", k.principal, name)
	case 23: // KDC_ERR_KEY_EXPIRED
		return fmt.Sprintf("the KDC refused %s: its password has expired (%s)", k.principal, name)
	case 37: // KRB_AP_ERR_SKEW
		return fmt.Sprintf("the KDC refused %s: the worker's clock and the KDC's differ too much (%s)", k.principal, name)
	}
	return fmt.Sprintf("the KDC refused %s for %s (%s)", k.principal, spn, name)
}

// innermost is the first cause in gokrb5's error text: after its
// "[Root cause: ...]" tag it joins its wrapping with " < ", newest first.
func innermost(text string) string {
	if i := strings.Index(text, "[Root cause: "); i >= 0 {
		if _, rest, ok := strings.Cut(text[i:], "] "); ok {
			text = rest
		}
	}
	parts := strings.Split(text, " < ")
	return strings.Join(strings.Fields(parts[len(parts)-1]), " ")
}

// lastCause is the end of gokrb5's text for a KDC it could not reach: the
// operating system's word for the last attempt ("connection refused",
// "i/o timeout"), not every attempt's addresses.
func lastCause(text string) string {
	text = innermost(text)
	if i := strings.LastIndex(text, ": "); i >= 0 {
		text = text[i+2:]
	}
	return strings.TrimRight(text, ")")
}

// kdcs lists the KDCs the configuration names for the login's realm, as
// " (kdc a, b)", or "" when they are looked up in DNS.
func (k *kerberosLogin) kdcs() string {
	for _, r := range k.client.Config.Realms {
		if r.Realm == k.client.Credentials.Domain() && len(r.KDC) > 0 {
			return " (kdc " + strings.Join(r.KDC, ", ") + ")"
		}
	}
	return ""
}

// negotiator is the RoundTripper of a kerberos credential: each request
// carries its own SPNEGO token (HTTP Negotiate, RFC 4559), so a request
// that opens a new connection is authenticated as well as one that reuses
// one. It replaces whatever Authorization the poster set.
type negotiator struct {
	rt    http.RoundTripper
	login *kerberosLogin
	spn   string
}

// RoundTrip implements http.RoundTripper. The ticket is got before the
// node is dialled, so a refusal by the KDC never reaches the node.
func (n *negotiator) RoundTrip(req *http.Request) (*http.Response, error) {
	header, err := n.login.negotiate(n.spn)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", header)
	return n.rt.RoundTrip(req)
}

// servicePrincipal is the SPN of WinRM on address: HTTP/<host>, in lower
// case as MIT and Active Directory register host names.
func servicePrincipal(address string) string {
	return "HTTP/" + strings.ToLower(strings.TrimSuffix(address, "."))
}
