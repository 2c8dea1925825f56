// Package node is the managed-node model: what Stead knows about a host it
// manages (where it is, how to reach it, how it is tagged), its validation,
// and the node import file format.
package node

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stead-io/stead/internal/problems"
)

// Platforms and transports Stead knows.
const (
	PlatformLinux   = "linux"
	PlatformWindows = "windows"

	TransportSSH   = "ssh"
	TransportLocal = "local"
	TransportWinRM = "winrm"
)

// Default ports of the transports that dial one.
const (
	SSHPort       = 22
	WinRMPort     = 5986 // HTTPS
	WinRMHTTPPort = 5985 // plain HTTP, with WinRMHTTP or WinRMInsecureHTTP
)

// Node is one managed host. It holds no secret: Credential names a key the
// worker holds, and HostKey is a public key.
type Node struct {
	ID         string            `json:"id" yaml:"id"`
	Address    string            `json:"address,omitempty" yaml:"address,omitempty"`
	Port       int               `json:"port,omitempty" yaml:"port,omitempty"`
	User       string            `json:"user,omitempty" yaml:"user,omitempty"`
	Platform   string            `json:"platform" yaml:"platform,omitempty"`
	Transport  string            `json:"transport" yaml:"transport,omitempty"`
	Region     string            `json:"region,omitempty" yaml:"region,omitempty"`
	HostKey    string            `json:"hostKey,omitempty" yaml:"hostKey,omitempty"`
	Credential string            `json:"credential,omitempty" yaml:"credential,omitempty"`
	Tags       map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
	// Sudo makes steps run through `sudo -n` (as root, never prompting): the node opts
	// in to escalation, so a document run elsewhere never gains more than the login
	// user has. The login user needs a NOPASSWD sudoers rule; sudo passwords are not
	// supported.
	Sudo bool `json:"sudo,omitempty" yaml:"sudo,omitempty"`
	// WinRMHTTP reaches a winrm node over plain HTTP (port 5985), Windows'
	// default listener, with every message encrypted and signed by the NTLM
	// login's session security. Nothing authenticates the node itself, as
	// a pinned certificate does over HTTPS; NTLM credentials only.
	WinRMHTTP bool `json:"winrmHttp,omitempty" yaml:"winrmHttp,omitempty"`
	// WinRMInsecureHTTP reaches a winrm node over plain HTTP (port 5985)
	// without message encryption (the node must allow unencrypted
	// traffic), where neither the node nor the traffic is authenticated:
	// only for labs, by the operator's explicit choice. Basic
	// authentication is refused over it.
	WinRMInsecureHTTP bool `json:"winrmInsecureHttp,omitempty" yaml:"winrmInsecureHttp,omitempty"`
	// RebootCommand reboots the node when a step exits 194 (3010 on
	// Windows); "" means the default of the platform's runner (on linux,
	// `shutdown -r now`).
	RebootCommand string `json:"rebootCommand,omitempty" yaml:"rebootCommand,omitempty"`
	// BootIDCommand prints an id that changes on every boot, by which
	// Stead sees that a reboot happened; "" means the default of the
	// platform's runner (on linux, the kernel's boot_id).
	BootIDCommand string `json:"bootIdCommand,omitempty" yaml:"bootIdCommand,omitempty"`
	// RebootTimeoutSeconds bounds the wait for the node to come back from
	// a reboot; 0 means DefaultRebootTimeoutSeconds.
	RebootTimeoutSeconds int `json:"rebootTimeoutSeconds,omitempty" yaml:"rebootTimeoutSeconds,omitempty"`
}

// DefaultRebootTimeoutSeconds bounds the wait for a rebooted node that
// gives no timeout of its own. The reboot command runs as the login user,
// through sudo -n only on a node that opted in with Sudo, like every step.
const DefaultRebootTimeoutSeconds = 600

// idPattern keeps node ids safe in workflow ids, visibility queries and
// remote run-directory names.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// tagPattern is the character set SSM allows in tag keys and values. Quotes
// and backslashes are not in it, which keeps tags safe inside visibility
// queries.
var tagPattern = regexp.MustCompile(`^[\p{L}\p{N} _.:/=+@-]*$`)

// ValidID reports whether id is a well-formed node id.
func ValidID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("node id %q: want 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return nil
}

// ValidTag reports whether a tag key and value are acceptable.
func ValidTag(key, value string) error {
	if key == "" || len(key) > 128 || !tagPattern.MatchString(key) || strings.Contains(key, "=") {
		return fmt.Errorf("tag key %q: want 1-128 letters, digits, spaces or _ . : / + @ -", key)
	}
	if len(value) > 256 || !tagPattern.MatchString(value) {
		return fmt.Errorf("tag %s value %q: want at most 256 letters, digits, spaces or _ . : / = + @ -", key, value)
	}
	return nil
}

// WithDefaults fills the fields a user may leave out.
func (n Node) WithDefaults() Node {
	if n.Platform == "" {
		n.Platform = PlatformLinux
	}
	if n.Transport == "" {
		n.Transport = TransportSSH
	}
	n.Platform = strings.ToLower(n.Platform)
	n.Transport = strings.ToLower(n.Transport)
	if n.Port == 0 {
		switch {
		case n.Transport == TransportSSH:
			n.Port = SSHPort
		case n.Transport == TransportWinRM && (n.WinRMHTTP || n.WinRMInsecureHTTP):
			n.Port = WinRMHTTPPort
		case n.Transport == TransportWinRM:
			n.Port = WinRMPort
		}
	}
	return n
}

// Validate returns every problem with the node at once, in one line (a
// *problems.Error). The node workflow refuses a registration with it, and
// clients check with it before they send one.
func (n Node) Validate() error {
	var errs problems.List
	if err := ValidID(n.ID); err != nil {
		errs.Add(err)
	}
	switch n.Platform {
	case PlatformLinux, PlatformWindows:
	default:
		errs.Addf("platform %q: want linux or windows", n.Platform)
	}
	switch n.Transport {
	case TransportSSH, TransportWinRM:
		if err := validAddress(n.Address, n.Transport); err != nil {
			errs.Add(err)
		}
		if n.Port < 1 || n.Port > 65535 {
			errs.Addf("port %d: want 1-65535", n.Port)
		}
		if n.User == "" && n.Transport == TransportSSH {
			errs.Addf("user: required for the ssh transport (the login the node's steps run as)")
		}
	case TransportLocal:
		if n.Platform != PlatformLinux {
			errs.Addf("transport local: only for linux workers")
		}
	default:
		errs.Addf("transport %q: want ssh, winrm or local", n.Transport)
	}
	if n.Transport == TransportWinRM {
		if n.Platform != PlatformWindows {
			errs.Addf("transport winrm: only for windows nodes")
		}
		if n.User == "" {
			errs.Addf("user: required for the winrm transport")
		}
		if n.WinRMHTTP && n.WinRMInsecureHTTP {
			errs.Addf("winrm http and winrm insecure http: choose one (insecure http is plain http without message encryption)")
		}
		if n.WinRMHTTP && n.HostKey != "" {
			errs.Addf("host key: a winrm node over plain http presents no certificate to pin")
		}
	} else {
		if n.WinRMInsecureHTTP {
			errs.Addf("winrm insecure http: only for the winrm transport")
		}
		if n.WinRMHTTP {
			errs.Addf("winrm http: only for the winrm transport")
		}
	}
	if n.Sudo && n.Platform == PlatformWindows {
		errs.Addf("sudo: windows nodes run steps as the login user")
	}
	if n.Region != "" && !idPattern.MatchString(n.Region) {
		errs.Addf("region %q: want letters, digits, '.', '_' or '-'", n.Region)
	}
	if n.Credential != "" && !idPattern.MatchString(n.Credential) {
		errs.Addf("credential %q: want letters, digits, '.', '_' or '-'", n.Credential)
	}
	switch {
	case n.HostKey == "":
	case n.Transport == TransportWinRM:
		if !certFingerprint.MatchString(n.HostKey) {
			errs.Addf("host key %q: a winrm node pins its certificate: want sha256:<64 hex digits>", abbreviate(n.HostKey))
		}
	default:
		if err := validHostKey(n.HostKey); err != nil {
			errs.Add(err)
		}
	}
	if strings.ContainsAny(n.User, " \t\n'\"\\;$`") {
		errs.Addf("user %q: not a valid user name", n.User)
	}
	if strings.ContainsRune(n.RebootCommand, 0) || strings.ContainsRune(n.BootIDCommand, 0) {
		errs.Addf("reboot and boot id commands must not contain a NUL byte")
	}
	if n.RebootTimeoutSeconds < 0 || n.RebootTimeoutSeconds > 86400 {
		errs.Addf("reboot timeout %ds: want 1-86400 seconds", n.RebootTimeoutSeconds)
	}
	for _, k := range slices.Sorted(maps.Keys(n.Tags)) {
		if err := ValidTag(k, n.Tags[k]); err != nil {
			errs.Add(err)
		}
	}
	return errs.Err()
}

// certFingerprint is a pinned certificate's SHA-256 fingerprint, hex with
// or without colons (package transport/winrm reads it).
var certFingerprint = regexp.MustCompile(`^(?i)sha256:([0-9a-f]{2}:?){31}[0-9a-f]{2}$`)

// validHostKey checks the authorized_keys shape "type base64 [comment]"
// without importing the ssh package into workflow code: the key must be
// base64 whose first field names the same type, as every SSH public key's
// wire form does.
func validHostKey(k string) error {
	f := strings.Fields(k)
	if len(f) < 2 || !strings.HasPrefix(f[0], "ssh-") && !strings.HasPrefix(f[0], "ecdsa-") {
		return fmt.Errorf("host key %q: want \"<type> <base64>\", e.g. the output of ssh-keyscan without the host", abbreviate(k))
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return fmt.Errorf("host key %q: the key is not valid base64", abbreviate(k))
	}
	if len(blob) < 4 || int(binary.BigEndian.Uint32(blob)) != len(f[0]) || len(blob) < 4+len(f[0]) || string(blob[4:4+len(f[0])]) != f[0] {
		return fmt.Errorf("host key %q: the key is not a %s public key", abbreviate(k), f[0])
	}
	return nil
}

// hostLabel is one label of a DNS host name (RFC 1123).
var hostLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// validAddress accepts a DNS host name or an IP address, nothing that a
// shell, a URL or a host:port parser would read differently.
func validAddress(a, transport string) error {
	switch {
	case a == "":
		return fmt.Errorf("address: required for the %s transport", transport)
	case net.ParseIP(strings.Trim(a, "[]")) != nil:
		return nil
	}
	if h, p, err := net.SplitHostPort(a); err == nil {
		return fmt.Errorf("address %q: give the port apart (--address %s --port %s)", a, h, p)
	}
	labels := strings.Split(strings.TrimSuffix(a, "."), ".")
	if len(a) > 253 {
		return fmt.Errorf("address %q: a host name is at most 253 characters", abbreviate(a))
	}
	for _, l := range labels {
		if !hostLabel.MatchString(l) {
			return fmt.Errorf("address %q: want a host name (letters, digits, '-' and '.') or an IP address", abbreviate(a))
		}
	}
	return nil
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// TagList returns the tags as sorted "key=value" strings: the form stored in
// the SteadTags search attribute.
func (n Node) TagList() []string {
	out := make([]string, 0, len(n.Tags))
	for _, k := range slices.Sorted(maps.Keys(n.Tags)) {
		out = append(out, k+"="+n.Tags[k])
	}
	return out
}

// ParseTag splits a "key=value" tag flag.
func ParseTag(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("tag %q: want key=value", s)
	}
	if err := ValidTag(k, v); err != nil {
		return "", "", err
	}
	return k, v, nil
}

// MaxImportBytes bounds a node import file.
const MaxImportBytes = 4 << 20

// ParseImport reads a YAML list of nodes (the fields of Node), applies
// defaults and validates them all, returning every problem at once with the
// entry it belongs to (the first problems.Max of them). Nothing is returned
// unless every entry is valid.
func ParseImport(data []byte) ([]Node, error) {
	if len(data) > MaxImportBytes {
		return nil, fmt.Errorf("node file is %d bytes: the limit is %d", len(data), MaxImportBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var nodes []Node
	if err := dec.Decode(&nodes); err != nil {
		return nil, fmt.Errorf("parse node file: %w", err)
	}
	if len(nodes) == 0 {
		return nil, errors.New("node file lists no nodes")
	}
	var errs problems.List
	seen := map[string]bool{}
	for i, n := range nodes {
		n = n.WithDefaults()
		nodes[i] = n
		if err := n.Validate(); err != nil {
			errs.Addf("node %d (%s): %v", i+1, n.ID, err)
		}
		if seen[n.ID] {
			errs.Addf("node %d: id %s appears twice", i+1, n.ID)
		}
		seen[n.ID] = true
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return nodes, nil
}

// HostPort is the "host:port" to dial.
func (n Node) HostPort() string {
	return net.JoinHostPort(n.Address, fmt.Sprint(n.Port))
}
