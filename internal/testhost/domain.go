package testhost

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DomainController is a test host running a Samba Active Directory domain
// controller: the domain's LDAP, Kerberos KDC and DNS (Samba's internal
// DNS server, which holds the domain's zone) on the host's Addr.
type DomainController struct {
	*Host
	// Domain is the domain's DNS name (stead.test), Realm its Kerberos
	// realm (STEAD.TEST).
	Domain, Realm string
	// AdminUser and AdminPassword are the domain administrator's login.
	AdminUser, AdminPassword string
}

// StartDomainController starts a host named name, provisions the domain
// domain on it with samba-tool (its NetBIOS name the domain's first label)
// and runs samba until the domain answers. adminPassword must meet Samba's
// default complexity rules (upper, lower, digit or symbol, 7+ characters).
func StartDomainController(t testing.TB, name, hostAddr, addr, domain, adminPassword string) *DomainController {
	t.Helper()
	h := Start(t, name, hostAddr, addr, Options{})
	domain = strings.ToLower(domain)
	dc := &DomainController{Host: h, Domain: domain, Realm: strings.ToUpper(domain), AdminUser: "Administrator", AdminPassword: adminPassword}
	netbios := strings.ToUpper(strings.SplitN(domain, ".", 2)[0])
	// The controller resolves names through its own DNS server, and knows
	// its own name before that server runs, as provisioning requires.
	dc.writeFile(t, "etc/hosts", fmt.Sprintf("127.0.0.1 localhost\n%s %s.%s %s\n", addr, name, domain, name))
	dc.writeFile(t, "etc/resolv.conf", fmt.Sprintf("search %s\nnameserver %s\n", domain, addr))
	for _, f := range []string{"etc/samba/smb.conf", "etc/krb5.conf"} {
		if err := os.Remove(filepath.Join(h.Root, f)); err != nil && !os.IsNotExist(err) {
			t.Fatalf("testhost: remove %s on %s: %v", f, name, err)
		}
	}
	start := time.Now()
	h.Exec(t, "samba-tool", "domain", "provision", "--server-role=dc", "--use-rfc2307",
		"--dns-backend=SAMBA_INTERNAL", "--realm="+dc.Realm, "--domain="+netbios,
		"--host-name="+name, "--host-ip="+addr, "--adminpass="+adminPassword,
		"--option=interfaces = lo "+addr, "--option=bind interfaces only = yes")
	h.Exec(t, "cp", "/var/lib/samba/private/krb5.conf", "/etc/krb5.conf")
	t.Logf("testhost: provisioned %s on %s in %s", dc.Realm, name, time.Since(start).Round(time.Second))
	// samba forks into the background; its output goes to its log files.
	h.Exec(t, "sh", "-c", "samba -D </dev/null >/var/log/samba/start.log 2>&1")
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(h.Root, "var/log/samba/log.samba"))
			t.Logf("testhost: %s samba log:\n%s", name, tailOf(log))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		// The domain answers once its connectionless LDAP does (samba-tool
		// domain info asks it) and its LDAP and Kerberos accept
		// connections: samba opens LDAP's TCP port only after generating
		// its TLS key, seconds later than connectionless LDAP answers.
		out, err := h.TryExec("samba-tool", "domain", "info", addr)
		if err == nil && strings.Contains(out, strings.ToLower(domain)) {
			_, err = h.TryExec("bash", "-c", `exec 3<>"/dev/tcp/$1/389" 4<>"/dev/tcp/$1/88"`, "listening", addr)
			if err == nil {
				break
			}
			out = "LDAP or Kerberos refuses connections: " + err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("testhost: the domain controller on %s did not answer within 60s: %s", name, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// A reverse zone with the controller's PTR record, as a domain's DNS
	// has: Kerberos clients canonicalise the controller's name through it,
	// and without it Samba forwards the query to itself and fails.
	octets := strings.Split(addr, ".")
	zone := octets[2] + "." + octets[1] + "." + octets[0] + ".in-addr.arpa"
	creds := []string{"-U", dc.AdminUser, "--password=" + adminPassword}
	h.Exec(t, append([]string{"samba-tool", "dns", "zonecreate", addr, zone}, creds...)...)
	h.Exec(t, append([]string{"samba-tool", "dns", "add", addr, zone, octets[3], "PTR", name + "." + domain}, creds...)...)
	t.Logf("testhost: %s answers for %s after %s", name, dc.Realm, time.Since(start).Round(time.Second))
	return dc
}

// Admit makes member a client of the domain: a link of their own between
// the two namespaces (the machine forwards nothing between hosts), a route
// to the controller's Addr over it, and the controller as member's DNS
// server, as a member of an Active Directory domain has. link names the
// link's interfaces; dcAddr and memberAddr are its ends' addresses.
func (dc *DomainController) Admit(t testing.TB, member *Host, link, dcAddr, memberAddr string) {
	t.Helper()
	dcIf, memberIf := "st-"+link+"-d", "st-"+link+"-m"
	ip(t, "link", "add", dcIf, "netns", dc.Netns.Name, "type", "veth", "peer", "name", memberIf, "netns", member.Netns.Name)
	dc.IP(t, "addr", "add", dcAddr+"/24", "dev", dcIf)
	dc.IP(t, "link", "set", dcIf, "up")
	member.IP(t, "addr", "add", memberAddr+"/24", "dev", memberIf)
	member.IP(t, "link", "set", memberIf, "up")
	member.IP(t, "route", "add", dc.Addr+"/32", "via", dcAddr)
	dc.writeFileOn(t, member, "etc/resolv.conf", fmt.Sprintf("search %s\nnameserver %s\n", dc.Domain, dc.Addr))
}

func (dc *DomainController) writeFile(t testing.TB, rel, content string) {
	t.Helper()
	dc.writeFileOn(t, dc.Host, rel, content)
}

func (dc *DomainController) writeFileOn(t testing.TB, h *Host, rel, content string) {
	t.Helper()
	p := filepath.Join(h.Root, rel)
	_ = os.Remove(p) // debootstrap may leave a link to the machine's file
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatalf("testhost: write %s on %s: %v", rel, h.Name, err)
	}
}
