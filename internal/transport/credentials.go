package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// AgentCredential is the credential value that means "use the ssh-agent at
// SSH_AUTH_SOCK" instead of a key file.
const AgentCredential = "agent"

// DefaultCredential is the credential used for targets that name none.
const DefaultCredential = "default"

// credentialName is what a credential may be called: it travels in
// payloads and flags, so keep it plain.
var credentialName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ParseCredentialFlags turns repeated "NAME=PATH" flag values into the
// SSHConfig.Credentials map, so every worker entry point parses them alike.
// PATH may be the word "agent".
func ParseCredentialFlags(values []string) (map[string]string, error) {
	creds := make(map[string]string, len(values))
	for _, v := range values {
		name, path, ok := strings.Cut(v, "=")
		if !ok || path == "" || !credentialName.MatchString(name) {
			return nil, fmt.Errorf("parse credential flag %q: want NAME=PATH with NAME of letters, digits, '.', '_' or '-'", v)
		}
		if _, dup := creds[name]; dup {
			return nil, fmt.Errorf("parse credential flag %q: credential %q given twice", v, name)
		}
		creds[name] = path
	}
	return creds, nil
}

// loadSigners reads and parses every key file in creds, so a worker with a
// bad key fails at start-up instead of at its first dial. It reports every
// bad credential at once. Errors name files, never their contents.
func loadSigners(creds map[string]string) (map[string]ssh.Signer, error) {
	signers := make(map[string]ssh.Signer, len(creds))
	var errs []error
	for name, path := range creds {
		if !credentialName.MatchString(name) {
			errs = append(errs, fmt.Errorf("load credential %q: name must be letters, digits, '.', '_' or '-'", name))
			continue
		}
		if path == AgentCredential {
			if os.Getenv("SSH_AUTH_SOCK") == "" {
				errs = append(errs, fmt.Errorf("load credential %q: it uses ssh-agent but SSH_AUTH_SOCK is not set", name))
			}
			continue
		}
		s, err := loadSigner(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("load credential %q: %w", name, err))
			continue
		}
		signers[name] = s
	}
	return signers, errors.Join(errs...)
}

// loadSigner parses one private key file.
func loadSigner(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, fmt.Errorf("parse key file %s: it is protected by a passphrase; load it into ssh-agent and name the credential %q", path, AgentCredential)
	case err != nil:
		return nil, fmt.Errorf("parse key file %s: %w", path, err)
	}
	return s, nil
}

// authFor picks the auth method for t. The returned release func closes
// any agent connection once the handshake is over.
func (d *SSHDialer) authFor(t Target) (ssh.AuthMethod, func(), error) {
	name := t.Credential
	if name == "" {
		_, hasDefault := d.creds[DefaultCredential]
		switch {
		case hasDefault:
			name = DefaultCredential
		case os.Getenv("SSH_AUTH_SOCK") != "":
			return agentAuth()
		default:
			return nil, nil, errors.New("the target names no credential and the worker has neither a \"default\" credential nor an ssh-agent (SSH_AUTH_SOCK)")
		}
	}
	path, ok := d.creds[name]
	if !ok {
		return nil, nil, fmt.Errorf("the worker holds no credential named %q", name)
	}
	if path == AgentCredential {
		return agentAuth()
	}
	return ssh.PublicKeys(d.signers[name]), func() {}, nil
}

// agentAuth authenticates with the keys held by the ssh-agent at
// SSH_AUTH_SOCK.
func agentAuth() (ssh.AuthMethod, func(), error) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, nil, errors.New("the credential uses ssh-agent but SSH_AUTH_SOCK is not set")
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to ssh-agent: %w", err)
	}
	return ssh.PublicKeysCallback(agent.NewClient(c).Signers), func() { c.Close() }, nil
}
