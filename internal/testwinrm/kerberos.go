package testwinrm

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/stead-io/stead/internal/testkdc"
	"github.com/stead-io/stead/internal/transport"
)

// The server's side of Kerberos over HTTP Negotiate (SPNEGO, RFC 4559), as
// a domain member's WinRM listener does it: the token carries an AP-REQ
// with a service ticket for the host's HTTP/ principal, which the server
// decrypts with its keytab (gokrb5's service side), and the ticket's
// client principal is mapped to a local user by its name.

// kerberosService is the server's Kerberos side: its key, once given.
type kerberosService struct {
	keytab atomic.Pointer[keytab.Keytab]
	logins atomic.Int64
}

// AcceptKerberos makes the server accept Kerberos service tickets
// encrypted with a key in the keytab at path, as a host joined to a domain
// holds one; until it is called, Negotiate tokens other than NTLM's are
// refused.
func (s *Server) AcceptKerberos(t testing.TB, path string) {
	t.Helper()
	kt, err := keytab.Load(path)
	if err != nil {
		t.Fatalf("load service keytab: %v", err)
	}
	s.kerberos.keytab.Store(kt)
}

// KerberosHost is the name the server is reached by with Kerberos: its
// service principal is HTTP/KerberosHost. A Kerberos client asks for a
// ticket for the name it dials, and the server listens on 127.0.0.1,
// which localhost names.
const KerberosHost = "localhost"

// JoinRealm joins the server to kdc's realm, as a domain member: every
// user of the server becomes a principal of the realm with the user's
// password, and the server accepts tickets for its service principal
// HTTP/KerberosHost.
func (s *Server) JoinRealm(t testing.TB, kdc *testkdc.KDC) {
	t.Helper()
	for user, password := range s.users {
		kdc.AddUser(t, user, password)
	}
	s.AcceptKerberos(t, kdc.AddService(t, "HTTP/"+KerberosHost))
}

// KerberosTarget is a target for this server by KerberosHost, pinning its
// certificate.
func (s *Server) KerberosTarget(user, credential string) transport.Target {
	target := s.Target(user, credential)
	target.Address = KerberosHost
	return target
}

// KerberosCredential writes the file of a worker's kerberos WinRM
// credential (winrm.ParseKerberosCredential) for user@testkdc.Realm, with
// the key in keytab or, when keytab is "", password in a 0600 file; it
// names kdc's krb5.conf. It returns the file's path.
func KerberosCredential(t testing.TB, kdc *testkdc.KDC, user, password, keytab string) string {
	t.Helper()
	dir := t.TempDir()
	key := "keytab=" + keytab
	if keytab == "" {
		if err := os.WriteFile(filepath.Join(dir, "password"), []byte(password+"\n"), 0o600); err != nil {
			t.Fatalf("write password file: %v", err)
		}
		key = "password_file=password"
	}
	content := fmt.Sprintf("# WinRM login of the test domain\nprincipal=%s@%s\n%s\nkrb5_conf=%s\n", user, testkdc.Realm, key, kdc.Config)
	path := filepath.Join(dir, "winrm-kerberos")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("write kerberos credential: %v", err)
	}
	return path
}

// KerberosLogins counts the requests authenticated with a Kerberos ticket.
func (s *Server) KerberosLogins() int { return int(s.kerberos.logins.Load()) }

// isNTLM reports whether a Negotiate token is NTLMSSP rather than SPNEGO.
func isNTLM(token string) bool {
	msg, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	return err == nil && strings.HasPrefix(string(msg), string(ntlmSignature))
}

// verifyKerberos checks a Negotiate token holding a Kerberos AP-REQ
// against the service keytab and maps its client principal to the
// server's user of the same name (case-insensitively, as Windows compares
// account names). A replayed token is refused.
func (s *Server) verifyKerberos(token string) error {
	kt := s.kerberos.keytab.Load()
	if kt == nil {
		return errors.New("kerberos is not enabled")
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return fmt.Errorf("decode token: %w", err)
	}
	var st spnego.SPNEGOToken
	if err := st.Unmarshal(b); err != nil {
		return fmt.Errorf("unmarshal spnego token: %w", err)
	}
	if !st.Init || len(st.NegTokenInit.MechTokenBytes) == 0 {
		return errors.New("not an initial spnego token with a mechanism token")
	}
	var k5 spnego.KRB5Token
	if err := k5.Unmarshal(st.NegTokenInit.MechTokenBytes); err != nil {
		return fmt.Errorf("unmarshal kerberos token: %w", err)
	}
	if !k5.IsAPReq() {
		return errors.New("the kerberos token is no AP-REQ")
	}
	// MIT's KDC puts a PAC of its own in tickets; Windows reads the PAC
	// for group membership, which this host does not use.
	ok, creds, err := service.VerifyAPREQ(&k5.APReq, service.NewSettings(kt, service.DecodePAC(false)))
	if err != nil || !ok {
		return fmt.Errorf("verify ap-req: %v", err)
	}
	for user := range s.users {
		if strings.EqualFold(user, creds.UserName()) {
			s.kerberos.logins.Add(1)
			return nil
		}
	}
	return fmt.Errorf("principal %s@%s maps to no user", creds.UserName(), creds.Domain())
}
