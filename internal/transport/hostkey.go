package transport

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyError is what our host key callbacks return; Dial turns it into
// an *Error after the handshake gives up.
type hostKeyError struct {
	kind      ErrorKind
	presented ssh.PublicKey
	err       error
}

// Error implements error.
func (e *hostKeyError) Error() string { return e.err.Error() }

// authorizedKey renders k in authorized_keys form without a newline.
func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// hostKeyCheck is how one dial verifies the host key: the callback and the
// host key algorithms to offer (nil means the library's defaults).
type hostKeyCheck struct {
	callback   ssh.HostKeyCallback
	algorithms []string
}

// pinnedCheck trusts exactly the key pinned on the target and offers only
// its algorithms, so the server presents that key and no other.
func pinnedCheck(pinned string) (hostKeyCheck, error) {
	want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pinned))
	if err != nil {
		return hostKeyCheck{}, fmt.Errorf("parse pinned host key: %w", err)
	}
	wantBytes := want.Marshal()
	return hostKeyCheck{
		algorithms: algorithmsFor(want.Type()),
		callback: func(_ string, _ net.Addr, got ssh.PublicKey) error {
			if bytes.Equal(got.Marshal(), wantBytes) {
				return nil
			}
			return &hostKeyError{
				kind:      HostKeyMismatch,
				presented: got,
				err:       fmt.Errorf("host presented %s %s, pinned key is %s", got.Type(), ssh.FingerprintSHA256(got), ssh.FingerprintSHA256(want)),
			}
		},
	}, nil
}

// untrustedCheck refuses every host key; it is used when neither a pinned
// key nor known_hosts is configured. It still reports the presented key so
// an operator can pin it.
func untrustedCheck() hostKeyCheck {
	return hostKeyCheck{callback: func(_ string, _ net.Addr, got ssh.PublicKey) error {
		return &hostKeyError{
			kind:      HostKeyUnknown,
			presented: got,
			err:       fmt.Errorf("host presented %s %s but the target pins no host key and the worker has no known_hosts file", got.Type(), ssh.FingerprintSHA256(got)),
		}
	}}
}

// algorithmsFor lists the host key algorithms that can prove a key of type
// keyType. RSA keys sign with SHA-2 only.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{keyType}
}

// knownHosts verifies host keys against a known_hosts file. The file is
// re-read when it changes, so operators can add hosts to a running worker.
type knownHosts struct {
	path  string
	probe ssh.PublicKey // a key no host has, used to list a host's known keys

	mu       sync.Mutex
	modTime  time.Time
	size     int64
	callback ssh.HostKeyCallback
	// caLines are the numbers of the file's @cert-authority lines. knownhosts lists a
	// CA's key among a host's known keys, as if the host had presented it; these tell
	// the two apart.
	caLines map[int]bool
}

// newKnownHosts loads path and fails if it cannot be read or parsed.
func newKnownHosts(path string) (*knownHosts, error) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("generate probe key: %w", err)
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("generate probe key: %w", err)
	}
	k := &knownHosts{path: path, probe: probe}
	if _, err := k.current(); err != nil {
		return nil, err
	}
	return k, nil
}

// current returns the callback for the file as it is now.
func (k *knownHosts) current() (ssh.HostKeyCallback, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	fi, err := os.Stat(k.path)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts: %w", err)
	}
	if k.callback != nil && fi.ModTime().Equal(k.modTime) && fi.Size() == k.size {
		return k.callback, nil
	}
	cb, err := knownhosts.New(k.path)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts: %w", err)
	}
	data, err := os.ReadFile(k.path)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts: %w", err)
	}
	k.caLines = map[int]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "@cert-authority" {
			k.caLines[i+1] = true
		}
	}
	k.callback, k.modTime, k.size = cb, fi.ModTime(), fi.Size()
	return cb, nil
}

// certAlgorithms are the host certificate algorithms offered when a certificate
// authority in known_hosts covers the host: the certificate's key type is not known
// beforehand.
var certAlgorithms = []string{
	ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01,
	ssh.CertAlgoECDSA521v01, ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

// plainAlgorithms are offered after the certificate algorithms to a host only a CA
// covers, so that a host without a certificate is reported as presenting an unknown
// key rather than as offering no common algorithm.
var plainAlgorithms = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// hostKeys splits the keys known_hosts lists for a host into its own keys and whether a
// certificate authority covers it.
func (k *knownHosts) hostKeys(want []knownhosts.KnownKey) (own []knownhosts.KnownKey, ca bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, w := range want {
		if w.Filename == k.path && k.caLines[w.Line] {
			ca = true
			continue
		}
		own = append(own, w)
	}
	return own, ca
}

// check builds the verification for one dial to hostPort at remote. It
// offers the algorithms of the keys known for the host, so a host with
// several keys presents the one known_hosts trusts.
func (k *knownHosts) check(hostPort string, remote net.Addr) (hostKeyCheck, error) {
	cb, err := k.current()
	if err != nil {
		return hostKeyCheck{}, err
	}
	var algorithms []string
	var keyErr *knownhosts.KeyError
	if err := cb(hostPort, remote, k.probe); errors.As(err, &keyErr) {
		own, ca := k.hostKeys(keyErr.Want)
		seen := map[string]bool{}
		add := func(list []string) {
			for _, a := range list {
				if !seen[a] {
					seen[a] = true
					algorithms = append(algorithms, a)
				}
			}
		}
		if ca {
			add(certAlgorithms)
		}
		for _, known := range own {
			add(algorithmsFor(known.Key.Type()))
		}
		if ca && len(own) == 0 {
			add(plainAlgorithms)
		}
	}
	return hostKeyCheck{
		algorithms: algorithms,
		callback: func(host string, remote net.Addr, got ssh.PublicKey) error {
			err := cb(host, remote, got)
			var keyErr *knownhosts.KeyError
			var revoked *knownhosts.RevokedError
			if cert, ok := got.(*ssh.Certificate); ok && err != nil {
				return certError(cert, err)
			}
			if errors.As(err, &keyErr) {
				if own, ca := k.hostKeys(keyErr.Want); ca && len(own) == 0 {
					return &hostKeyError{kind: HostKeyUnknown, presented: got,
						err: fmt.Errorf("host presented %s %s without a certificate, and known_hosts trusts only a certificate authority for this host", got.Type(), ssh.FingerprintSHA256(got))}
				}
			}
			switch {
			case err == nil:
				return nil
			case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
				return &hostKeyError{kind: HostKeyUnknown, presented: got,
					err: fmt.Errorf("host presented %s %s, which known_hosts does not list for this host", got.Type(), ssh.FingerprintSHA256(got))}
			case errors.As(err, &keyErr):
				return &hostKeyError{kind: HostKeyMismatch, presented: got,
					err: fmt.Errorf("host presented %s %s, which differs from the key known_hosts lists for this host", got.Type(), ssh.FingerprintSHA256(got))}
			case errors.As(err, &revoked):
				return &hostKeyError{kind: HostKeyMismatch, presented: got,
					err: fmt.Errorf("host presented %s %s, which known_hosts marks revoked", got.Type(), ssh.FingerprintSHA256(got))}
			default:
				return &hostKeyError{kind: HostKeyUnknown, presented: got, err: fmt.Errorf("check known_hosts: %w", err)}
			}
		},
	}, nil
}

// certError classifies why a host certificate was refused. ssh.CertChecker reports
// plain errors, so its messages are matched; anything unrecognised is HostKeyUnknown.
func certError(cert *ssh.Certificate, err error) error {
	ca := ssh.FingerprintSHA256(cert.SignatureKey)
	msg := err.Error()
	switch {
	case strings.Contains(msg, "revoked"):
		return &hostKeyError{kind: HostKeyMismatch, presented: cert,
			err: fmt.Errorf("host presented a certificate (serial %d) that known_hosts marks revoked", cert.Serial)}
	case strings.Contains(msg, "no authorities"):
		return &hostKeyError{kind: HostKeyUnknown, presented: cert,
			err: fmt.Errorf("host presented a certificate signed by %s, which known_hosts does not trust as a certificate authority for this host", ca)}
	case strings.Contains(msg, "principal"):
		return &hostKeyError{kind: HostKeyUnknown, presented: cert,
			err: fmt.Errorf("host presented a certificate signed by %s that is not valid for this host (principals %s)", ca, strings.Join(cert.ValidPrincipals, ","))}
	default:
		return &hostKeyError{kind: HostKeyUnknown, presented: cert,
			err: fmt.Errorf("host presented a certificate signed by %s that was refused: %w", ca, err)}
	}
}
