package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/cli"
	"github.com/stead-io/stead/client"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/testhost"
)

// The built-in job documents run on real hosts: Debian roots in network
// namespaces (internal/testhost), each with its own sshd and apt, reached
// by a real worker through real associations.

// hostNode registers h as node id, logging in as root with its pinned
// host key, and deregisters it when the test ends.
func hostNode(t *testing.T, id string, h *testhost.Host, tags ...string) {
	t.Helper()
	t.Cleanup(func() { stead(t, "node", "deregister", id) })
	args := []string{"node", "register", "--id", id, "--address", h.Addr, "--port", "22", "--user", h.User, "--host-key", h.HostKey}
	for _, tag := range tags {
		args = append(args, "--tag", tag)
	}
	ok(t, args...)
}

// runAssociation creates association name (or, when it exists, starts it
// again) and waits for the execution: the node's outcome, and whether
// the CLI reported success.
func runAssociation(t *testing.T, name string, create ...string) (cli.TargetOutput, bool) {
	t.Helper()
	args := []string{"association", "start", name, "--wait"}
	if len(create) > 0 {
		args = append([]string{"association", "create", "--name", name, "--wait"}, create...)
		t.Cleanup(func() { stead(t, "association", "delete", name) })
	}
	out, errs, code := stead(t, args...)
	outs := targetsJSON(t, name, execID(t, out+errs))
	require.Len(t, outs, 1, out+errs)
	return outs[0], code == 0
}

// requireCompliance waits for the node's compliance with association to
// be status.
func requireCompliance(t *testing.T, node, association, status string) {
	t.Helper()
	var last string
	require.Eventually(t, func() bool {
		var recs []cli.NodeCompliance
		if err := json.Unmarshal([]byte(ok(t, "compliance", "list", "--node", node, "--association", association, "--output", "json")), &recs); err != nil || len(recs) != 1 {
			return false
		}
		last = recs[0].Status
		return last == status
	}, 30*time.Second, 200*time.Millisecond, "compliance of %s with %s: want %s, last %q", node, association, status, last)
}

// Stead-InstallPackages: Validate reports a missing package as drift and
// installs nothing; Enforce installs it from the host's apt repository;
// a rerun changes nothing and says so; an exact version is a downgrade
// when asked; Remove removes.
func TestInstallPackagesOnARealHost(t *testing.T) {
	testhost.Require(t)
	repo := testhost.NewRepo(t)
	repo.Add(t, "main", "stable", "Stead-Test",
		testhost.Package{Name: "stead-web", Version: "1.0", Files: map[string]string{"/usr/sbin/stead-web": "#!/bin/sh\necho web 1.0\n"}},
		testhost.Package{Name: "stead-web", Version: "1.2", Files: map[string]string{"/usr/sbin/stead-web": "#!/bin/sh\necho web 1.2\n"}})
	repo.Serve(t)
	h := testhost.Start(t, "ip1", "10.203.1.1", "10.203.1.2", testhost.Options{Repo: repo})
	startLocalWorker(t, h.KeyFile)
	hostNode(t, "pkg-1", h, "role=web")
	// installed is stead-web's dpkg status and version, "" when absent.
	installed := func() string {
		t.Helper()
		return h.Exec(t, "sh", "-c", "dpkg-query -W -f='${db:Status-Abbrev}${Version}' stead-web 2>/dev/null || true")
	}
	target := []string{"--document", "Stead-InstallPackages", "--targets", "Key=tag:role,Values=web"}

	o, success := runAssociation(t, "pkg-check", append(target, "--parameters", `{"Mode":"Validate","Packages":["stead-web"]}`)...)
	require.False(t, success)
	require.Equal(t, contract.StatusFailed, o.Status, o.DetailedStatus)
	require.Contains(t, o.Output[0].Stdout, "drift: stead-web: not installed, wanted installed")
	require.Contains(t, o.Output[0].Stdout, "nothing changed (Mode Validate)")
	require.Empty(t, installed(), "Validate installs nothing")
	requireCompliance(t, "pkg-1", "pkg-check", contract.NonCompliant)

	o, success = runAssociation(t, "pkg-web", append(target, "--parameters", `{"Packages":["stead-web"]}`)...)
	require.True(t, success, o.DetailedStatus)
	require.Contains(t, o.Output[0].Stdout, "changed: 1 package(s) through apt; COMPLIANT")
	require.Equal(t, "ii 1.2", installed())
	requireCompliance(t, "pkg-1", "pkg-web", contract.Compliant)

	o, success = runAssociation(t, "pkg-web")
	require.True(t, success, o.DetailedStatus)
	require.Contains(t, o.Output[0].Stdout, "COMPLIANT: every package is as wanted (apt); nothing to change")
	require.NotContains(t, o.Output[0].Stdout, "apt-get", "a compliant node runs no package manager")

	o, success = runAssociation(t, "pkg-check")
	require.True(t, success, o.DetailedStatus)
	requireCompliance(t, "pkg-1", "pkg-check", contract.Compliant)

	o, success = runAssociation(t, "pkg-pin", append(target, "--parameters", `{"Packages":["stead-web=1.0"]}`)...)
	require.True(t, success, "%s: %s", o.DetailedStatus, o.Output[0].Stderr)
	require.Contains(t, o.Output[0].Stdout, "drift: stead-web: version 1.2, wanted 1.0")
	require.Equal(t, "ii 1.0", installed())

	o, success = runAssociation(t, "pkg-gone", append(target, "--parameters", `{"Action":"Remove","Packages":["stead-web"]}`)...)
	require.True(t, success, "%s: %s", o.DetailedStatus, o.Output[0].Stderr)
	require.Empty(t, installed(), "removed")
	require.NoFileExists(t, h.Root+"/usr/sbin/stead-web")

	// Bad parameters are refused before anything runs, as for any document.
	fails(t, "Packages", "association", "create", "--name", "pkg-bad", "--document", "Stead-InstallPackages",
		"--targets", "Key=tag:role,Values=web", "--parameters", `{"Packages":["-o APT::Foo=1; reboot"]}`)
}

// Stead-RunPatchBaseline: a scan lists the missing security update and
// changes nothing; Validate with Install changes nothing either; an
// install applies the security update alone (not the non-security one,
// nor the rejected one), and compliance turns COMPLIANT.
func TestPatchBaselineOnARealHost(t *testing.T) {
	testhost.Require(t)
	pkg := func(name, version string) testhost.Package {
		return testhost.Package{Name: name, Version: version, Files: map[string]string{"/usr/bin/" + name: "#!/bin/sh\necho " + version + "\n"}}
	}
	repo := testhost.NewRepo(t)
	repo.Add(t, "main", "stable", "Stead-Test", pkg("stead-ssl", "1.0"), pkg("stead-tool", "1.0"), pkg("stead-tool", "1.1"), pkg("stead-old", "1.0"))
	repo.Add(t, "security", "stable-security", "Debian-Security", pkg("stead-ssl", "1.0+sec1"), pkg("stead-old", "1.0+sec1"))
	repo.Serve(t)
	h := testhost.Start(t, "pb1", "10.203.2.1", "10.203.2.2", testhost.Options{Repo: repo})
	h.Exec(t, "sh", "-c", "apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y stead-ssl=1.0 stead-tool=1.0 stead-old=1.0 >/dev/null")
	startLocalWorker(t, h.KeyFile)
	hostNode(t, "patch-1", h, "patch=yes")
	versions := func() string {
		t.Helper()
		return h.Exec(t, "dpkg-query", "-W", "-f=${Package}=${Version} ", "stead-ssl", "stead-tool", "stead-old")
	}
	const unpatched = "stead-old=1.0 stead-ssl=1.0 stead-tool=1.0 "
	target := []string{"--document", "Stead-RunPatchBaseline", "--targets", "Key=tag:patch,Values=yes"}

	o, success := runAssociation(t, "patch-scan", append(target, "--parameters", `{"Operation":"Scan","RejectedPatches":["stead-old"]}`)...)
	require.False(t, success)
	require.Equal(t, contract.StatusFailed, o.Status)
	out := o.Output[0].Stdout
	require.Contains(t, out, "Missing=1 Failed=0", out)
	require.Contains(t, out, "InstalledOther=1 InstalledRejected=1", out)
	require.Contains(t, out, "missing: stead-ssl 1.0 -> 1.0+sec1 (security)")
	require.NotContains(t, out, "missing: stead-tool")
	require.NotContains(t, out, "missing: stead-old")
	require.Equal(t, unpatched, versions(), "a scan changes nothing")
	requireCompliance(t, "patch-1", "patch-scan", contract.NonCompliant)
	pc := patchCompliance(t, "patch-1", "patch-scan")
	require.Equal(t, contract.NonCompliant, pc.Status)
	require.Equal(t, "Scan", pc.Operation)
	require.Equal(t, []int{1, 1, 1, 0, 0}, []int{pc.Missing, pc.InstalledOther, pc.InstalledRejected, pc.Failed, pc.NotApplicable})
	require.Equal(t, []string{"stead-ssl"}, pc.MissingPatches)
	require.Greater(t, pc.Installed, 50, "the root's packages are installed and current")
	table := ok(t, "compliance", "list", "--type", "patch", "--node", "patch-1")
	require.Contains(t, table, "MISSING")
	require.Regexp(t, `patch-1\s+patch-scan\s+NON_COMPLIANT\s+Scan\s+\d+\s+1\s+1\s+1\s+0\s+0`, table)
	fails(t, `--type "Inventory": want Association or Patch`, "compliance", "list", "--type", "Inventory")
	summary := ok(t, "compliance", "summary", "--type", "Patch")
	require.Regexp(t, `patch-scan\s+1\s+0\s+1\s+\d+\s+1\s+1\s+1\s+0\s+0`, summary, "one node, non-compliant, its counts")
	fails(t, `--type "Inventory": want Association or Patch`, "compliance", "summary", "--type", "Inventory")

	o, success = runAssociation(t, "patch-dry", append(target, "--parameters", `{"Operation":"Install","Mode":"Validate","RejectedPatches":["stead-old"]}`)...)
	require.False(t, success)
	require.Contains(t, o.Output[0].Stdout, "nothing changed (Install, Mode Validate)")
	require.Equal(t, unpatched, versions(), "Validate changes nothing")

	o, success = runAssociation(t, "patch-install", append(target, "--parameters", `{"Operation":"Install","RejectedPatches":["stead-old"]}`)...)
	require.True(t, success, "%s\n%s\n%s", o.DetailedStatus, o.Output[0].Stdout, o.Output[0].Stderr)
	require.Contains(t, o.Output[0].Stdout, "installed: stead-ssl 1.0 -> 1.0+sec1 (security)")
	require.Contains(t, o.Output[0].Stdout, "Missing=0 Failed=0")
	require.Equal(t, "stead-old=1.0 stead-ssl=1.0+sec1 stead-tool=1.0 ", versions(), "the security update alone")
	requireCompliance(t, "patch-1", "patch-install", contract.Compliant)
	installed := patchCompliance(t, "patch-1", "patch-install")
	require.Equal(t, contract.Compliant, installed.Status)
	require.Equal(t, []int{0, 0}, []int{installed.Missing, installed.Failed})
	require.Equal(t, pc.Installed+1, installed.Installed, "the security update is installed now")
	require.Empty(t, installed.MissingPatches)

	_, success = runAssociation(t, "patch-scan")
	require.True(t, success)
	requireCompliance(t, "patch-1", "patch-scan", contract.Compliant)

	// Approving a package by name makes its non-security update missing.
	o, success = runAssociation(t, "patch-approved", append(target, "--parameters", `{"ApprovedPatches":["stead-tool","stead-absent"],"RejectedPatches":["stead-old"]}`)...)
	require.False(t, success)
	require.Contains(t, o.Output[0].Stdout, "missing: stead-tool 1.0 -> 1.1 (approved)")
	require.Contains(t, o.Output[0].Stdout, "NotApplicable=1")
}

// Stead-RunPatchBaseline with RebootIfNeeded: an update whose install asks
// for a reboot (its postinst flags /run/reboot-required) reboots the node
// through Stead, which waits for a new boot id; a rerun neither installs
// nor reboots.
func TestPatchBaselineRebootsWhenAnUpdateAsks(t *testing.T) {
	testhost.Require(t)
	repo := testhost.NewRepo(t)
	repo.Add(t, "main", "stable", "Stead-Test",
		testhost.Package{Name: "stead-kernel", Version: "1.0", Files: map[string]string{"/usr/bin/stead-kernel": "#!/bin/sh\necho 1.0\n"}})
	repo.Add(t, "security", "stable-security", "Debian-Security",
		testhost.Package{Name: "stead-kernel", Version: "1.0+sec1", Files: map[string]string{"/usr/bin/stead-kernel": "#!/bin/sh\necho 1.0+sec1\n",
			"/DEBIAN/postinst": "#!/bin/sh\ntouch /var/run/reboot-required\n"}})
	repo.Serve(t)
	h := testhost.Start(t, "pr1", "10.203.7.1", "10.203.7.2", testhost.Options{Repo: repo})
	h.Exec(t, "sh", "-c", "apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y stead-kernel=1.0 >/dev/null")
	reboots := h.EmulateReboots(t)
	startLocalWorker(t, h.KeyFile)
	t.Cleanup(func() { stead(t, "node", "deregister", "patch-rb") })
	ok(t, "node", "register", "--id", "patch-rb", "--address", h.Addr, "--port", "22", "--user", h.User, "--host-key", h.HostKey,
		"--tag", "patch=reboot", "--reboot-command", testhost.RebootCommand, "--boot-id-command", testhost.BootIDCommand, "--reboot-timeout", "60s")

	o, success := runAssociation(t, "patch-reboot", "--document", "Stead-RunPatchBaseline", "--targets", "Key=tag:patch,Values=reboot",
		"--parameters", `{"Operation":"Install","RebootOption":"RebootIfNeeded"}`)
	require.True(t, success, "%s\n%s\n%s", o.DetailedStatus, o.Output[0].Stdout, o.Output[0].Stderr)
	require.Contains(t, o.Output[0].Stdout, "installed: stead-kernel 1.0 -> 1.0+sec1 (security)")
	require.Contains(t, o.Output[0].Stdout, "an update asks for a reboot: rebooting through Stead")
	require.Equal(t, 194, o.Output[0].ExitCode)
	require.Contains(t, o.Steps[0].DetailedStatus, "rebooted (exit code 194): boot id boot-1, then boot-2")
	require.Equal(t, 1, reboots())
	require.Equal(t, "1.0+sec1", h.Exec(t, "dpkg-query", "-W", "-f=${Version}", "stead-kernel"))
	_, err := h.TryExec("test", "-e", "/var/run/reboot-required")
	require.Error(t, err, "the reboot cleared the flag")
	requireCompliance(t, "patch-rb", "patch-reboot", contract.Compliant)

	o, success = runAssociation(t, "patch-reboot")
	require.True(t, success, o.DetailedStatus)
	require.Contains(t, o.Output[0].Stdout, "COMPLIANT: no approved update is missing")
	require.NotContains(t, o.Output[0].Stdout, "rebooting")
	require.Equal(t, 1, reboots(), "nothing installed, no reboot")
}

// patchCompliance is node's patch compliance with association, from
// `compliance list --type Patch`.
func patchCompliance(t *testing.T, node, association string) cli.PatchCompliance {
	t.Helper()
	var recs []cli.PatchCompliance
	out := ok(t, "compliance", "list", "--type", "Patch", "--node", node, "--association", association, "--output", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &recs), out)
	require.Len(t, recs, 1, out)
	return recs[0]
}

// Stead-UpdateSoftware: Validate reports a node on another build and
// changes nothing; Enforce downloads the wanted build through the worker,
// replaces the program and restarts its service; a rerun changes nothing;
// a build whose health check fails is rolled back.
func TestUpdateSoftwareOnARealHost(t *testing.T) {
	testhost.Require(t)
	agent := func(build string, healthy bool) []byte {
		health := "exit 0"
		if !healthy {
			health = "echo unhealthy >&2; exit 1"
		}
		return fmt.Appendf(nil, "#!/bin/sh\n# agent build %s\nif [ \"${1:-}\" = --health ]; then %s; fi\nexec sleep 100000\n", build, health)
	}
	builds := map[string][]byte{"/agent-1": agent("1", true), "/agent-2": agent("2", true), "/agent-3": agent("3", false)}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, found := builds[r.URL.Path]; found {
			_, _ = w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	sum := func(path string) string {
		s := sha256.Sum256(builds[path])
		return hex.EncodeToString(s[:])
	}

	h := testhost.Start(t, "us1", "10.203.3.1", "10.203.3.2", testhost.Options{})
	const bin = "/usr/local/bin/stead-agent"
	require.NoError(t, os.WriteFile(h.Root+bin, builds["/agent-1"], 0o755))
	require.NoError(t, os.WriteFile(h.Root+"/etc/init.d/stead-agent", []byte(`#!/bin/sh
# A System V service for the agent.
pidfile=/run/stead-agent.pid
case "$1" in
  start) start-stop-daemon --start --background --make-pidfile --pidfile $pidfile --startas `+bin+` ;;
  stop) start-stop-daemon --stop --quiet --oknodo --pidfile $pidfile --remove-pidfile ;;
  restart) "$0" stop; "$0" start ;;
  status) start-stop-daemon --status --pidfile $pidfile ;;
esac
`), 0o755))
	startLocalWorker(t, h.KeyFile, func(a *activities.Activities) { a.HTTPClient = srv.Client() })
	hostNode(t, "upd-1", h, "agent=yes")
	params := func(build, mode string) string {
		b, err := json.Marshal(map[string]any{"Path": bin, "Url": srv.URL + build, "Sha256": sum(build), "Service": "stead-agent",
			"HealthCheck": []string{bin, "--health"}, "HealthTimeout": "3", "Mode": mode})
		require.NoError(t, err)
		return string(b)
	}
	onHost := func() string {
		t.Helper()
		return h.ReadFile(t, bin)
	}
	target := []string{"--document", "Stead-UpdateSoftware", "--targets", "Key=tag:agent,Values=yes"}

	o, success := runAssociation(t, "upd-check", append(target, "--parameters", params("/agent-2", "Validate"))...)
	require.False(t, success)
	require.Contains(t, o.Output[0].Stdout, "drift: "+bin+" has sha256 "+sum("/agent-1")+", wanted "+sum("/agent-2"))
	require.Equal(t, string(builds["/agent-1"]), onHost(), "Validate changes nothing")
	requireCompliance(t, "upd-1", "upd-check", contract.NonCompliant)

	o, success = runAssociation(t, "upd-2", append(target, "--parameters", params("/agent-2", "Enforce"))...)
	require.True(t, success, "%s: %+v", o.DetailedStatus, o.Output)
	require.Contains(t, o.Output[2].Stdout, "updated: "+bin+" is at sha256 "+sum("/agent-2")+" and healthy")
	require.Equal(t, string(builds["/agent-2"]), onHost())
	h.Exec(t, "/etc/init.d/stead-agent", "status") // fails the test unless the restart started the service
	requireCompliance(t, "upd-1", "upd-2", contract.Compliant)

	o, success = runAssociation(t, "upd-2")
	require.True(t, success, o.DetailedStatus)
	require.Contains(t, o.Output[0].Stdout, "nothing to change")
	require.Len(t, o.Output, 1, "a node at the wanted build downloads nothing")

	o, success = runAssociation(t, "upd-3", append(target, "--parameters", params("/agent-3", "Enforce"))...)
	require.False(t, success)
	require.Contains(t, o.Output[2].Stderr, "health check failed after the update: rolling back")
	require.Contains(t, o.Output[2].Stderr, "rolled back: "+bin+" is at its previous build, healthy")
	require.Equal(t, string(builds["/agent-2"]), onHost(), "the previous build is back")
	require.NoFileExists(t, h.Root+bin+".stead-new")
	require.NoFileExists(t, h.Root+bin+".stead-previous")
	requireCompliance(t, "upd-1", "upd-3", contract.NonCompliant)
}

// Stead-ConfigureNetwork: Validate lists the drift and changes nothing;
// Enforce applies addresses, a route, MTU and DNS, confirmed by the
// worker's next step; a rerun changes nothing; a change that cuts the
// node off from the worker (its own address removed) is rolled back and
// the run fails saying so.
func TestConfigureNetworkOnARealHost(t *testing.T) {
	testhost.Require(t)
	h := testhost.Start(t, "cn1", "10.203.4.1", "10.203.4.2", testhost.Options{})
	startLocalWorker(t, h.KeyFile)
	hostNode(t, "net-1", h, "net=yes")
	settings := func() string {
		t.Helper()
		return h.Exec(t, "sh", "-c", "ip -o addr show dev "+h.If+" | awk '{print $4}'; cat /sys/class/net/"+h.If+"/mtu; ip route show 10.99.0.0/16; cat /etc/resolv.conf 2>/dev/null || true")
	}
	before := settings()
	params := func(mode string) string {
		b, err := json.Marshal(map[string]any{"Interface": h.If, "Addresses": []string{"10.203.4.20/24"}, "MTU": "1400",
			"Routes": []string{"10.99.0.0/16=10.203.4.1"}, "DNS": []string{"10.203.4.1"}, "Mode": mode})
		require.NoError(t, err)
		return string(b)
	}
	target := []string{"--document", "Stead-ConfigureNetwork", "--targets", "Key=tag:net,Values=yes"}

	o, success := runAssociation(t, "net-check", append(target, "--parameters", params("Validate"))...)
	require.False(t, success)
	out := o.Output[0].Stdout
	require.Contains(t, out, "drift: add address 10.203.4.20/24 to "+h.If)
	require.Contains(t, out, "drift: route 10.99.0.0/16 via 10.203.4.1")
	require.Contains(t, out, "drift: name servers 10.203.4.1")
	require.Contains(t, out, "drift: MTU 1400 on "+h.If+" (now 1500)")
	require.Equal(t, before, settings(), "Validate changes nothing")
	requireCompliance(t, "net-1", "net-check", contract.NonCompliant)

	o, success = runAssociation(t, "net-set", append(target, "--parameters", params("Enforce"))...)
	require.True(t, success, "%s: %+v", o.DetailedStatus, o.Output)
	require.Contains(t, o.Output[1].Stdout, "COMPLIANT: the worker reaches the node after the change; confirmed")
	after := settings()
	require.Contains(t, after, "10.203.4.20/24")
	require.Contains(t, after, "\n1400\n")
	require.Contains(t, after, "10.99.0.0/16 via 10.203.4.1")
	require.Contains(t, after, "nameserver 10.203.4.1")
	requireCompliance(t, "net-1", "net-set", contract.Compliant)

	o, success = runAssociation(t, "net-set")
	require.True(t, success, o.DetailedStatus)
	require.Contains(t, o.Output[0].Stdout, "nothing to change")
	require.Len(t, o.Output, 1)

	// Removing the address the worker reaches the node on cuts it off:
	// the node restores its settings, and the worker's next step says so.
	start := time.Now()
	o, success = runAssociation(t, "net-cut", append(target, "--parameters",
		`{"Interface":"`+h.If+`","RemoveAddresses":["10.203.4.2/24"],"RollbackSeconds":"5"}`)...)
	require.False(t, success)
	require.Len(t, o.Output, 2, "%s: %+v", o.DetailedStatus, o.Output)
	require.Contains(t, o.Output[0].Stdout, "drift: remove address 10.203.4.2/24 from "+h.If)
	require.Contains(t, o.Output[1].Stderr, "rolled back: the change cut the node off from the worker")
	require.Equal(t, after, settings(), "the settings from before the cut are back")
	t.Logf("cut off and rolled back in %s", time.Since(start).Round(time.Second))
	requireCompliance(t, "net-1", "net-cut", contract.NonCompliant)
}

// Stead-GatherInventory: one association collects two hosts' inventories;
// `inventory list` answers which host has which version of a package, and
// `inventory describe` shows one host in full.
func TestGatherInventoryOnRealHosts(t *testing.T) {
	testhost.Require(t)
	repo := testhost.NewRepo(t)
	repo.Add(t, "main", "stable", "Stead-Test", testhost.Package{Name: "stead-ssl", Version: "1.0"})
	repo.Add(t, "security", "stable-security", "Debian-Security", testhost.Package{Name: "stead-ssl", Version: "1.0+sec1"})
	repo.Serve(t)
	a := testhost.Start(t, "inva", "10.203.5.1", "10.203.5.2", testhost.Options{Repo: repo})
	b := testhost.Start(t, "invb", "10.203.6.1", "10.203.6.2", testhost.Options{Repo: repo, KeyFile: a.KeyFile})
	a.Exec(t, "sh", "-c", "apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y stead-ssl=1.0 >/dev/null")
	b.Exec(t, "sh", "-c", "apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y stead-ssl >/dev/null")
	startLocalWorker(t, a.KeyFile)
	hostNode(t, "inv-a", a, "inventory=yes")
	hostNode(t, "inv-b", b, "inventory=yes")

	t.Cleanup(func() { stead(t, "association", "delete", "inventory") })
	ok(t, "association", "create", "--name", "inventory", "--document", "Stead-GatherInventory",
		"--targets", "Key=tag:inventory,Values=yes", "--wait")

	var invs []cli.Inventory
	require.NoError(t, json.Unmarshal([]byte(ok(t, "inventory", "list", "--output", "json")), &invs))
	require.Len(t, invs, 2)
	require.NoError(t, json.Unmarshal([]byte(ok(t, "inventory", "list", "--package", "stead-ssl", "--version-below", "1.0+sec1", "--output", "json")), &invs))
	require.Len(t, invs, 1)
	require.Equal(t, "inv-a", invs[0].NodeID, "only inv-a lacks the security update")
	v, found := invs[0].PackageVersion("stead-ssl")
	require.True(t, found)
	require.Equal(t, "1.0", v)
	require.Regexp(t, `inv-b\s.*\s1\.0\+sec1\s`, ok(t, "inventory", "list", "--package", "stead-ssl"))

	var inv cli.Inventory
	require.NoError(t, json.Unmarshal([]byte(ok(t, "inventory", "describe", "--node", "inv-b", "--output", "json")), &inv))
	require.Equal(t, "Debian GNU/Linux 12 (bookworm)", inv.OS)
	require.Equal(t, strings.TrimSpace(b.Exec(t, "uname", "-r")), strings.Fields(inv.Kernel)[0])
	v, found = inv.PackageVersion("openssh-server")
	require.True(t, found, "the Debian packages of the host are listed")
	require.NotEmpty(t, v)
	var addrs []string
	for _, i := range inv.Interfaces {
		addrs = append(addrs, i.Addresses...)
	}
	require.Contains(t, addrs, "10.203.6.2/24")
	require.Contains(t, inv.Users, client.InventoryUser{Name: "root", UID: 0, Shell: "/bin/bash"})
	require.NotEmpty(t, inv.Services)
	require.Contains(t, ok(t, "inventory", "describe", "--node", "inv-a"), "package stead-ssl")
	fails(t, "node inv-none has no inventory", "inventory", "describe", "--node", "inv-none")
}
