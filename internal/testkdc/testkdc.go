// Package testkdc runs a real MIT Kerberos KDC for tests: Debian's
// krb5kdc, as a process of its own on a free loopback port, with a fresh
// database in a temporary directory (kdb5_util) and principals and keytabs
// made by kadmin.local. So Kerberos logins are tested against the KDC
// software realms run, not a stand-in. Nothing outside the test's
// directory is read or written: the tools get their configuration through
// KRB5_CONFIG and KRB5_KDC_PROFILE.
package testkdc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
)

// Realm is the test realm.
const Realm = "STEAD.TEST"

// tools are the programs a KDC needs, with the Debian package of each.
var tools = []struct{ name, pkg string }{
	{"krb5kdc", "krb5-kdc"},
	{"kdb5_util", "krb5-kdc"},
	{"kadmin.local", "krb5-admin-server"},
}

// KDC is a running krb5kdc for Realm.
type KDC struct {
	// Port is the KDC's port at 127.0.0.1, over TCP and UDP.
	Port int
	// Config is a krb5.conf naming this KDC, for clients.
	Config string

	dir  string
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start creates a realm and runs its KDC until the test ends. Without the
// MIT tools it skips the test, saying what to install; under CI (CI=true)
// it fails it instead, since CI installs them (.ci/run).
func Start(t testing.TB) *KDC {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := lookPath(tool.name); err != nil {
			missing = append(missing, tool.name+" ("+tool.pkg+")")
		}
	}
	if len(missing) > 0 {
		msg := "the test KDC needs MIT Kerberos: " + strings.Join(missing, ", ") + " not found; apt-get install krb5-kdc krb5-admin-server"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// A port found free may be taken before the KDC binds it: try again.
	var err error
	for range 3 {
		var k *KDC
		if k, err = start(t); err == nil {
			t.Cleanup(k.Stop)
			return k
		}
	}
	t.Fatalf("testkdc: %v", err)
	return nil
}

// lookPath finds a tool on PATH or in the sbin directories Debian puts the
// KDC's in, which a test's PATH may lack.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func start(t testing.TB) (*KDC, error) {
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	k := &KDC{Port: port, Config: filepath.Join(dir, "krb5.conf"), dir: dir, done: make(chan struct{})}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// Clients find the KDC by this file alone: no DNS, and the host names
	// of service principals are used as given, since the test's names
	// resolve to the loopback address, whose reverse name is another.
	krb5conf := fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
[realms]
	%[1]s = {
		kdc = %[2]s
	}
[domain_realm]
	localhost = %[1]s
`, Realm, addr)
	kdcconf := fmt.Sprintf(`[kdcdefaults]
	kdc_listen = %[2]s
	kdc_tcp_listen = %[2]s
[realms]
	%[1]s = {
		database_name = %[3]s/principal
		key_stash_file = %[3]s/stash
		acl_file = %[3]s/kadm5.acl
		kdc_listen = %[2]s
		kdc_tcp_listen = %[2]s
		max_life = 10h
	}
[logging]
	kdc = FILE:%[3]s/kdc.log
`, Realm, addr, dir)
	for name, content := range map[string]string{"krb5.conf": krb5conf, "kdc.conf": kdcconf, "kadm5.acl": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	k.env = append(os.Environ(), "KRB5_CONFIG="+k.Config, "KRB5_KDC_PROFILE="+filepath.Join(dir, "kdc.conf"))
	if _, err := k.run("kdb5_util", "create", "-s", "-r", Realm, "-P", "stead-test-master-key"); err != nil {
		return nil, err
	}
	path, err := lookPath("krb5kdc")
	if err != nil {
		return nil, err
	}
	// -n: in the foreground, a child of the test, ended with it.
	k.cmd = exec.Command(path, "-n", "-r", Realm)
	k.cmd.Env = k.env
	var stderr bytes.Buffer
	k.cmd.Stdout, k.cmd.Stderr = &stderr, &stderr
	if err := k.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start krb5kdc: %w", err)
	}
	go func() {
		_ = k.cmd.Wait()
		close(k.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-k.done:
			log, _ := os.ReadFile(filepath.Join(dir, "kdc.log"))
			return nil, fmt.Errorf("krb5kdc exited: %s %s", strings.TrimSpace(stderr.String()), lastLine(string(log)))
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return k, nil
		}
		if time.Now().After(deadline) {
			k.Stop()
			return nil, fmt.Errorf("krb5kdc does not accept connections at %s after 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort is a port free on 127.0.0.1 for both TCP and UDP, as the KDC
// listens on both.
func freePort() (int, error) {
	for range 10 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		_ = ln.Close()
		if err == nil {
			_ = udp.Close()
			return port, nil
		}
	}
	return 0, errors.New("no port free for both tcp and udp")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// run runs an MIT tool with the realm's configuration.
func (k *KDC) run(tool string, args ...string) (string, error) {
	path, err := lookPath(tool)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = k.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// kadmin runs one kadmin.local query. kadmin.local exits 0 whether or not
// the query succeeded, so callers check its effect.
func (k *KDC) kadmin(t testing.TB, query string) string {
	t.Helper()
	out, err := k.run("kadmin.local", "-r", Realm, "-q", query)
	if err != nil {
		t.Fatalf("testkdc: %v", err)
	}
	return out
}

// requirePrincipal fails the test unless the database holds name, and
// returns what kadmin.local says of it.
func (k *KDC) requirePrincipal(t testing.TB, name, after string) string {
	t.Helper()
	out := k.kadmin(t, "getprinc "+name)
	if !strings.Contains(out, "Principal: "+name+"@"+Realm) {
		t.Fatalf("testkdc: %s: no principal %s afterwards: %s", after, name, strings.TrimSpace(out))
	}
	return out
}

// AddUser creates the principal name@Realm with password. Like an Active
// Directory account, it requires pre-authentication, so a wrong password
// is refused by the KDC itself.
func (k *KDC) AddUser(t testing.TB, name, password string) {
	t.Helper()
	if strings.ContainsAny(password, "\"\n") {
		t.Fatalf("testkdc: a password for kadmin.local's query holds no quote or newline")
	}
	k.kadmin(t, fmt.Sprintf(`addprinc +requires_preauth -pw "%s" %s`, password, name))
	if out := k.requirePrincipal(t, name, "addprinc"); !strings.Contains(out, "REQUIRES_PRE_AUTH") {
		t.Fatalf("testkdc: %s does not require pre-authentication: %s", name, strings.TrimSpace(out))
	}
}

// WithoutPreauth lets name get tickets without pre-authentication, as MIT
// realms do by default: the KDC then answers any request for the name, in
// a reply only its key decrypts.
func (k *KDC) WithoutPreauth(t testing.TB, name string) {
	t.Helper()
	k.kadmin(t, "modprinc -requires_preauth "+name)
	if out := k.requirePrincipal(t, name, "modprinc"); strings.Contains(out, "REQUIRES_PRE_AUTH") {
		t.Fatalf("testkdc: %s still requires pre-authentication: %s", name, strings.TrimSpace(out))
	}
}

// AddService creates the service principal spn@Realm (as "HTTP/host")
// with a random key, and returns a keytab holding it, as a host's
// keytab does.
func (k *KDC) AddService(t testing.TB, spn string) string {
	t.Helper()
	k.kadmin(t, "addprinc -randkey "+spn)
	k.requirePrincipal(t, spn, "addprinc")
	return k.Keytab(t, spn)
}

// Keytab exports the current keys of principal into a new keytab (mode
// 0600) without changing them, so a password set by AddUser still works
// beside it; it returns the keytab's path.
func (k *KDC) Keytab(t testing.TB, principal string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), strings.ReplaceAll(principal, "/", "_")+".keytab")
	k.kadmin(t, fmt.Sprintf("ktadd -k %s -norandkey %s", path, principal))
	kt, err := keytab.Load(path)
	if err != nil {
		t.Fatalf("testkdc: ktadd %s: %v", principal, err)
	}
	if len(kt.Entries) == 0 {
		t.Fatalf("testkdc: ktadd %s: the keytab is empty", principal)
	}
	return path
}

// Stop ends the KDC, as a KDC that went down; nothing answers at Port
// afterwards. Start's cleanup calls it too.
func (k *KDC) Stop() {
	if k.cmd == nil || k.cmd.Process == nil {
		return
	}
	select {
	case <-k.done:
		return
	default:
	}
	_ = k.cmd.Process.Kill()
	<-k.done
}
