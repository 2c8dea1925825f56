package testhost

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CacheDir holds artefacts CI keeps between runs; the root filesystem
// tarball lives here.
const CacheDir = "/var/cache/stead-ci"

// Suite is the Debian release test hosts run.
const Suite = "bookworm"

// rootfsPackages are installed into the root filesystem beside Debian's
// minimal base: what a managed host has (an SSH server, iproute2, ps), and
// what the domain join is proven with, since hosts cannot reach Debian's
// mirror: a Samba Active Directory domain controller (samba and the modules
// and provisioning data its AD DC mode needs, winbind for its NSS/ID
// mapping) and a member's adcli and Kerberos client. Every host gets them;
// the one root is built once and cached.
var rootfsPackages = []string{"openssh-server", "iproute2", "procps", "iputils-ping",
	"samba", "samba-dsdb-modules", "samba-vfs-modules", "samba-ad-provision", "winbind", "adcli", "krb5-user"}

// mirror is where debootstrap fetches Debian's packages; STEAD_DEBIAN_MIRROR
// overrides it.
func mirror() string {
	if m := os.Getenv("STEAD_DEBIAN_MIRROR"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

// Require skips the test unless it can build hosts here (root, ip,
// debootstrap, tar, dpkg-deb), or fails it when CI=true, where it must run.
func Require(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"ip", "unshare", "nsenter", "chroot", "debootstrap", "tar", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("test hosts need %s (.ci/run installs the tools: debootstrap, iproute2, util-linux, dpkg)", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Rootfs returns the path of the cached root filesystem tarball, building
// it with debootstrap first when it is missing. Its name carries a hash of
// what it contains, so a change of packages builds a new one. Concurrent
// callers (test binaries of several packages) wait for one build.
func Rootfs(t testing.TB) string {
	t.Helper()
	path, built, took, err := ensureRootfs()
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	if built {
		t.Logf("testhost: built %s in %s", path, took.Round(time.Second))
	}
	return path
}

func ensureRootfs() (path string, built bool, took time.Duration, err error) {
	sum := sha256.Sum256([]byte(Suite + " " + strings.Join(rootfsPackages, ",")))
	path = filepath.Join(CacheDir, "testhost-"+Suite+"-"+hex.EncodeToString(sum[:4])+".tar")
	if _, err := os.Stat(path); err == nil {
		return path, false, 0, nil
	}
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		return "", false, 0, fmt.Errorf("create %s: %w", CacheDir, err)
	}
	lock, err := os.OpenFile(filepath.Join(CacheDir, "testhost.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", false, 0, fmt.Errorf("open lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", false, 0, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if _, err := os.Stat(path); err == nil {
		return path, false, 0, nil // another process built it meanwhile
	}
	start := time.Now()
	if err := buildRootfs(path); err != nil {
		return "", false, 0, err
	}
	return path, true, time.Since(start), nil
}

// buildRootfs runs debootstrap into a scratch directory and packs the
// result into path, atomically.
func buildRootfs(path string) error {
	work, err := os.MkdirTemp(CacheDir, "build-")
	if err != nil {
		return fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "root")
	out, err := exec.Command("debootstrap", "--variant=minbase", "--include="+strings.Join(rootfsPackages, ","),
		Suite, root, mirror()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("debootstrap %s: %w: %s", Suite, err, tailOf(out))
	}
	// Hosts get their sources from the test; nothing should reach the
	// Internet, nor start services at install time.
	for _, f := range []string{"etc/apt/sources.list", "etc/ssh/ssh_host_rsa_key", "etc/ssh/ssh_host_ecdsa_key", "etc/ssh/ssh_host_ed25519_key"} {
		if err := os.Remove(filepath.Join(root, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("clean root filesystem: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/policy-rc.d"), []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		return fmt.Errorf("write policy-rc.d: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(root, "var/cache/apt/archives")); err != nil {
		return fmt.Errorf("clean apt cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(root, "var/cache/apt/archives/partial"), 0o755); err != nil {
		return fmt.Errorf("recreate apt cache: %w", err)
	}
	tmp := path + ".tmp"
	if out, err := exec.Command("tar", "--numeric-owner", "-cf", tmp, "-C", root, ".").CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pack root filesystem: %w: %s", err, tailOf(out))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("store root filesystem: %w", err)
	}
	return nil
}

// tailOf is the end of a command's output, for error messages.
func tailOf(out []byte) string {
	s := strings.TrimSpace(string(out))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}
