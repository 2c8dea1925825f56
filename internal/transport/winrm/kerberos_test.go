package winrm_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/testkdc"
	"github.com/stead-io/stead/internal/testwinrm"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/internal/transport/winrm"
)

// kerberosDialer is a WinRM dialer whose "default" credential is the
// kerberos credential file, given as the worker's flag gives it.
func kerberosDialer(t *testing.T, file string) *winrm.Dialer {
	t.Helper()
	creds, err := winrm.ParseCredentialFlags([]string{"default=kerberos:" + file})
	require.NoError(t, err)
	d, err := winrm.NewDialer(winrm.Config{Credentials: creds, ConnectTimeout: 5 * time.Second})
	require.NoError(t, err)
	return d
}

// dialError dials target and returns the *transport.Error it fails with.
func dialError(t *testing.T, d *winrm.Dialer, target transport.Target) *transport.Error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, target)
	if err == nil {
		c.Close()
		t.Fatal("dial succeeded")
	}
	var te *transport.Error
	require.ErrorAs(t, err, &te)
	require.NotContains(t, err.Error(), "\n", "one line")
	return te
}

// TestKerberos: against a real MIT KDC, a principal's password and its
// keytab both get a service ticket the (fake) WinRM host accepts; a wrong
// password, an unknown principal, a node dialled by an address its SPN is
// not registered under and a principal the host maps to no user are
// AuthFailed, each saying so in one line without the password; a KDC that
// does not answer makes the node Unreachable.
func TestKerberos(t *testing.T) {
	kdc := testkdc.Start(t)
	srv := testwinrm.Start(t, testwinrm.User, testwinrm.Password)
	srv.JoinRealm(t, kdc)
	target := srv.KerberosTarget(testwinrm.User, "")

	run := func(d *winrm.Dialer, text string) {
		t.Helper()
		c, err := d.Dial(context.Background(), target)
		require.NoError(t, err)
		defer c.Close()
		var out bytes.Buffer
		code, err := c.Run(context.Background(), "echo "+text, nil, &out, nil)
		require.NoError(t, err)
		require.Equal(t, 0, code)
		require.Equal(t, text+"\r\n", out.String())
	}
	byPassword := kerberosDialer(t, testwinrm.KerberosCredential(t, kdc, testwinrm.User, testwinrm.Password, ""))
	run(byPassword, "by password")
	logins := srv.KerberosLogins()
	require.GreaterOrEqual(t, logins, 3, "every request (create, command, receive, ...) carried a ticket")
	require.Zero(t, srv.NTLMLogins())

	keytab := kdc.Keytab(t, testwinrm.User)
	run(kerberosDialer(t, testwinrm.KerberosCredential(t, kdc, testwinrm.User, "", keytab)), "by keytab")
	require.Greater(t, srv.KerberosLogins(), logins)

	const wrong = "Not-The-Passw0rd"
	te := dialError(t, kerberosDialer(t, testwinrm.KerberosCredential(t, kdc, testwinrm.User, wrong, "")), target)
	require.Equal(t, transport.AuthFailed, te.Kind, te.Error())
	require.Contains(t, te.Error(), "the KDC refused Administrator@STEAD.TEST: wrong password or key (KDC_ERR_PREAUTH_FAILED)")
	require.NotContains(t, te.Error(), wrong)
	require.False(t, te.Retryable())

	// A realm that does not require pre-authentication answers a wrong
	// password too, in a reply that does not decrypt.
	kdc.AddUser(t, "relaxed", testwinrm.Password)
	kdc.WithoutPreauth(t, "relaxed")
	te = dialError(t, kerberosDialer(t, testwinrm.KerberosCredential(t, kdc, "relaxed", wrong, "")), target)
	require.Equal(t, transport.AuthFailed, te.Kind, te.Error())
	require.Contains(t, te.Error(), "kerberos: the KDC's answer for relaxed@STEAD.TEST does not decrypt: wrong password or key")
	require.NotContains(t, te.Error(), wrong)

	te = dialError(t, kerberosDialer(t, testwinrm.KerberosCredential(t, kdc, "nobody", wrong, "")), target)
	require.Equal(t, transport.AuthFailed, te.Kind, te.Error())
	require.Contains(t, te.Error(), "the KDC knows no principal nobody@STEAD.TEST (KDC_ERR_C_PRINCIPAL_UNKNOWN)")
	require.NotContains(t, te.Error(), wrong)

	byIP := target
	byIP.Address = "127.0.0.1"
	te = dialError(t, byPassword, byIP)
	require.Equal(t, transport.AuthFailed, te.Kind, te.Error())
	require.Contains(t, te.Error(), "the KDC knows no service principal HTTP/127.0.0.1: a node is reached by the DNS name its SPN is registered under")

	// A principal of the realm the host does not map to a user: the KDC
	// issues the ticket, the node refuses it.
	kdc.AddUser(t, "stranger", testwinrm.Password)
	te = dialError(t, kerberosDialer(t, testwinrm.KerberosCredential(t, kdc, "stranger", testwinrm.Password, "")), target)
	require.Equal(t, transport.AuthFailed, te.Kind, te.Error())
	require.Contains(t, te.Error(), "the node refused the kerberos ticket of stranger@STEAD.TEST: http status 401")

	// One credential logs in once for many nodes dialled at the same time.
	fresh := kerberosDialer(t, testwinrm.KerberosCredential(t, kdc, testwinrm.User, testwinrm.Password, ""))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			c, err := fresh.Dial(context.Background(), target)
			if err == nil {
				err = c.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	// The KDC goes down: a worker that already holds the node's ticket
	// keeps reaching it until the ticket expires; one that holds none
	// cannot get one, and tries again later.
	kdc.Stop()
	run(byPassword, "with a cached ticket")
	te = dialError(t, kerberosDialer(t, testwinrm.KerberosCredential(t, kdc, testwinrm.User, testwinrm.Password, "")), target)
	require.Equal(t, transport.Unreachable, te.Kind, te.Error())
	require.Contains(t, te.Error(), fmt.Sprintf("kerberos: no KDC of realm STEAD.TEST (kdc 127.0.0.1:%d) answered for Administrator@STEAD.TEST: connection refused", kdc.Port))
	require.NotContains(t, te.Error(), testwinrm.Password)
	require.True(t, te.Retryable())
}

// TestKerberosCredentialFiles: a bad kerberos credential stops the worker
// at start-up with a one-line error naming the file and the problem.
func TestKerberosCredentialFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), mode))
		return path
	}
	conf := write("krb5.conf", "[libdefaults]\n\tdefault_realm = STEAD.TEST\n\tdns_lookup_kdc = false\n[realms]\n\tSTEAD.TEST = {\n\t\tkdc = 127.0.0.1:1\n\t}\n", 0o644)
	write("pw", "secret-password\n", 0o600)
	write("open-pw", "secret-password\n", 0o644)
	write("empty-pw", "\n", 0o600)
	write("not-a-keytab", "secret-password\n", 0o600)
	tests := []struct{ name, content, says string }{
		{"ok", "principal=a@STEAD.TEST\npassword_file=pw\nkrb5_conf=" + conf, ""},
		{"open password file", "principal=a@STEAD.TEST\npassword_file=open-pw\nkrb5_conf=" + conf, "open-pw is readable by group or others"},
		{"empty password", "principal=a@STEAD.TEST\npassword_file=empty-pw\nkrb5_conf=" + conf, "empty-pw holds no password on its first line"},
		{"missing password file", "principal=a@STEAD.TEST\npassword_file=nope\nkrb5_conf=" + conf, "no such file"},
		{"not a keytab", "principal=a@STEAD.TEST\nkeytab=not-a-keytab\nkrb5_conf=" + conf, "keytab " + dir + "/not-a-keytab"},
		{"realm without kdc", "principal=a@OTHER.TEST\npassword_file=pw\nkrb5_conf=" + conf, "names no KDC for realm OTHER.TEST"},
		{"missing krb5.conf", "principal=a@STEAD.TEST\npassword_file=pw\nkrb5_conf=/nonexistent/krb5.conf", "kerberos configuration /nonexistent/krb5.conf"},
		{"no principal", "password_file=pw", "no principal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := write("cred-"+strings.ReplaceAll(tc.name, " ", "-"), tc.content, 0o644)
			_, err := winrm.NewDialer(winrm.Config{Credentials: map[string]winrm.Credential{"k": {Auth: winrm.AuthKerberos, PasswordFile: file}}})
			if tc.says == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), `load winrm credential "k"`)
			require.Contains(t, err.Error(), tc.says)
			require.NotContains(t, err.Error(), "secret-password")
			require.NotContains(t, err.Error(), "\n")
		})
	}

	creds, err := winrm.ParseCredentialFlags([]string{"k=kerberos:/etc/stead/k"})
	require.NoError(t, err)
	require.Equal(t, winrm.Credential{Auth: winrm.AuthKerberos, PasswordFile: "/etc/stead/k"}, creds["k"])
	_, err = winrm.ParseCredentialFlags([]string{"k=kerberos:"})
	require.ErrorContains(t, err, "kerberos:")
}

func TestParseKerberosCredential(t *testing.T) {
	k, err := winrm.ParseKerberosCredential([]byte("# login\n\n principal = svc/stead@CORP.EXAMPLE.COM \r\nkeytab=stead.keytab\n"), "/etc/stead")
	require.NoError(t, err)
	require.Equal(t, winrm.KerberosCredential{User: "svc/stead", Realm: "CORP.EXAMPLE.COM", Keytab: "/etc/stead/stead.keytab", Krb5Conf: "/etc/krb5.conf"}, k)
	require.Equal(t, "svc/stead@CORP.EXAMPLE.COM", k.Principal())

	k, err = winrm.ParseKerberosCredential([]byte("principal=a@R\npassword_file=/p\nkrb5_conf=/k/krb5.conf"), "/d")
	require.NoError(t, err)
	require.Equal(t, winrm.KerberosCredential{User: "a", Realm: "R", PasswordFile: "/p", Krb5Conf: "/k/krb5.conf"}, k)

	for in, says := range map[string]string{
		"":              "no principal",
		"principal=a@R": "neither keytab nor password_file",
		"principal=a@R\nkeytab=/k\npassword_file=/p": "both keytab and password_file",
		"principal=a\nkeytab=/k":                     `principal "a": want user@REALM`,
		"principal=@R\nkeytab=/k":                    "want user@REALM",
		"principal=a@\nkeytab=/k":                    "want user@REALM",
		"principal=a@R\nkeytab=":                     "line 2: keytab is empty",
		"principal=a@R\nprincipal=b@R":               "line 2: principal is set twice",
		"principal=a@R\npassword=hunter2":            `line 2: unknown key "password"`,
		"principal a@R":                              "line 1: want KEY=value",
	} {
		_, err := winrm.ParseKerberosCredential([]byte(in), "/d")
		require.ErrorContains(t, err, says, in)
	}
}

// FuzzParseKerberosCredential: the parser never panics; what it accepts
// names a principal with a realm, exactly one key source and absolute
// paths; what it refuses, it refuses in one line.
func FuzzParseKerberosCredential(f *testing.F) {
	f.Add("principal=a@R\nkeytab=k\n")
	f.Add("# c\nprincipal = svc/x@CORP.EXAMPLE.COM\npassword_file=/p\nkrb5_conf=/etc/krb5.conf\n")
	f.Add("principal=a@b@R\nkeytab=/k\nkeytab=/j")
	f.Fuzz(func(t *testing.T, in string) {
		k, err := winrm.ParseKerberosCredential([]byte(in), "/d")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("two-line error %q", err)
			}
			return
		}
		if k.User == "" || k.Realm == "" || (k.Keytab == "") == (k.PasswordFile == "") {
			t.Fatalf("accepted %q as %+v", in, k)
		}
		for _, p := range []string{k.Keytab, k.PasswordFile, k.Krb5Conf} {
			if p != "" && !filepath.IsAbs(p) {
				t.Fatalf("relative path %q from %q", p, in)
			}
		}
	})
}
