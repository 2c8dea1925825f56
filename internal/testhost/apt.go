package testhost

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Package is a Debian package the test builds with dpkg-deb.
type Package struct {
	Name, Version string
	// Depends is the control file's Depends field; "" for none.
	Depends string
	// Files are the package's files: absolute path on the host -> content.
	// Paths under /usr/bin and /usr/sbin are executable; /DEBIAN/postinst
	// and the other paths under /DEBIAN are its maintainer scripts.
	Files map[string]string
}

// Repo is a local apt repository: flat archives ("deb URL/ARCHIVE ./"),
// one per suite, served over HTTP on an address the test hosts reach.
type Repo struct {
	dir      string
	archives map[string]archive
	port     int
}

// archive is one flat archive and the Release fields apt reads for it:
// security updates come from an archive whose Label says so, as Debian's
// security archive does.
type archive struct {
	suite, label string
	debs         []string
}

// NewRepo returns an empty repository in a directory of its own.
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	return &Repo{dir: t.TempDir(), archives: map[string]archive{}}
}

// Add builds pkgs into archive name, whose Release says suite and label
// (e.g. "stable-security" and "Debian-Security" for security updates).
func (r *Repo) Add(t testing.TB, name, suite, label string, pkgs ...Package) {
	t.Helper()
	a := r.archives[name]
	a.suite, a.label = suite, label
	for _, p := range pkgs {
		deb, err := r.build(name, p)
		if err != nil {
			t.Fatalf("testhost: build %s %s: %v", p.Name, p.Version, err)
		}
		a.debs = append(a.debs, deb)
	}
	r.archives[name] = a
}

// build writes p's tree and control file and packs it with dpkg-deb.
func (r *Repo) build(archiveName string, p Package) (string, error) {
	tree, err := os.MkdirTemp(r.dir, "tree-")
	if err != nil {
		return "", fmt.Errorf("create tree: %w", err)
	}
	defer os.RemoveAll(tree)
	if err := os.MkdirAll(filepath.Join(tree, "DEBIAN"), 0o755); err != nil {
		return "", fmt.Errorf("create DEBIAN: %w", err)
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: Stead tests <tests@stead.invalid>\nPriority: optional\nSection: misc\nDescription: Stead test package %s\n", p.Name, p.Version, p.Name)
	if p.Depends != "" {
		control += "Depends: " + p.Depends + "\n"
	}
	if err := os.WriteFile(filepath.Join(tree, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
		return "", fmt.Errorf("write control: %w", err)
	}
	for path, content := range p.Files {
		dst := filepath.Join(tree, path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("create %s: %w", filepath.Dir(path), err)
		}
		mode := os.FileMode(0o644)
		if d := filepath.Dir(path); d == "/usr/bin" || d == "/usr/sbin" || d == "/DEBIAN" {
			mode = 0o755
		}
		if err := os.WriteFile(dst, []byte(content), mode); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(r.dir, archiveName), 0o755); err != nil {
		return "", fmt.Errorf("create archive: %w", err)
	}
	deb := filepath.Join(r.dir, archiveName, fmt.Sprintf("%s_%s_all.deb", p.Name, p.Version))
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, deb).CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb: %w: %s", err, tailOf(out))
	}
	return deb, nil
}

// Serve writes every archive's index and serves the repository until the
// test ends, on a port of every address of the machine: each host reaches
// it on the machine's end of its own link (Sources).
func (r *Repo) Serve(t testing.TB) {
	t.Helper()
	for _, name := range r.names() {
		if err := r.index(name); err != nil {
			t.Fatalf("testhost: index archive %s: %v", name, err)
		}
	}
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatalf("testhost: listen: %v", err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(r.dir)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	r.port = l.Addr().(*net.TCPAddr).Port
}

// Sources returns the sources.list lines of every archive for a host whose
// link's machine end is via; Serve must have run.
func (r *Repo) Sources(via string) []string {
	var lines []string
	for _, name := range r.names() {
		lines = append(lines, fmt.Sprintf("deb [trusted=yes] http://%s/%s ./", net.JoinHostPort(via, fmt.Sprint(r.port)), name))
	}
	return lines
}

// names lists the archives, sorted.
func (r *Repo) names() []string {
	var names []string
	for n := range r.archives {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// index writes an archive's Packages and an unsigned Release file (the
// hosts trust the repository by its sources line).
func (r *Repo) index(name string) error {
	a := r.archives[name]
	var packages strings.Builder
	for _, deb := range a.debs {
		control, err := exec.Command("dpkg-deb", "-f", deb).Output()
		if err != nil {
			return fmt.Errorf("read control of %s: %w", deb, err)
		}
		content, err := os.ReadFile(deb)
		if err != nil {
			return fmt.Errorf("read %s: %w", deb, err)
		}
		sum := sha256.Sum256(content)
		fmt.Fprintf(&packages, "%sFilename: ./%s\nSize: %d\nSHA256: %s\n\n", control, filepath.Base(deb), len(content), hex.EncodeToString(sum[:]))
	}
	if err := os.WriteFile(filepath.Join(r.dir, name, "Packages"), []byte(packages.String()), 0o644); err != nil {
		return fmt.Errorf("write Packages: %w", err)
	}
	sum := sha256.Sum256([]byte(packages.String()))
	release := fmt.Sprintf("Origin: Stead-Test\nLabel: %s\nSuite: %s\nCodename: %s\nDate: %s\nSHA256:\n %s %d Packages\n",
		a.label, a.suite, a.suite, time.Now().UTC().Add(-time.Hour).Format(time.RFC1123Z), hex.EncodeToString(sum[:]), packages.Len())
	if err := os.WriteFile(filepath.Join(r.dir, name, "Release"), []byte(release), 0o644); err != nil {
		return fmt.Errorf("write Release: %w", err)
	}
	return nil
}
