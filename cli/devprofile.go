package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
)

// devProfile is what a running `stead dev` tells the commands of the same
// user: where its server answers and which key its payloads are encrypted
// with, so a command run from any directory reaches it without flags.
type devProfile struct {
	Address   string `json:"address"`
	Namespace string `json:"namespace"`
	// Encrypted is false under --no-encryption: payloads are plaintext.
	Encrypted bool `json:"encrypted"`
	// CodecKeyFile is the key file when the keys came from one (not from
	// STEAD_CODEC_KEYS, which the user's other shells must set themselves).
	CodecKeyFile string `json:"codecKeyFile,omitempty"`
	PID          int    `json:"pid"`
}

// devProfilePath is the file `stead dev` writes its profile to, in the
// user's config directory (~/.config/stead/dev.json on Linux).
func devProfilePath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user's config directory: %w", err)
	}
	return filepath.Join(dir, "stead", "dev.json"), nil
}

// writeDevProfile records p for the user's other commands; only the user
// may read it, since it names the key file.
func writeDevProfile(p devProfile) (string, error) {
	path, err := devProfilePath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode dev profile: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("write dev profile %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write dev profile %s: %w", path, err)
	}
	return path, nil
}

// removeDevProfile deletes the profile when it is still this process's,
// so a `stead dev` started since keeps its own.
func removeDevProfile(path string) {
	if p, ok := readDevProfileAt(path); ok && p.PID == os.Getpid() {
		_ = os.Remove(path)
	}
}

// readDevProfile is the running `stead dev`'s profile, if one was written.
func readDevProfile() (devProfile, string, bool) {
	path, err := devProfilePath()
	if err != nil {
		return devProfile{}, "", false
	}
	p, ok := readDevProfileAt(path)
	return p, path, ok
}

func readDevProfileAt(path string) (devProfile, bool) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || err != nil {
		return devProfile{}, false
	}
	var p devProfile
	if json.Unmarshal(b, &p) != nil || p.Address == "" {
		return devProfile{}, false
	}
	return p, true
}

// sameAddress reports whether two host:port strings name the same
// loopback or literal address, counting "localhost" as 127.0.0.1.
func sameAddress(a, b string) bool {
	norm := func(s string) string {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return s
		}
		if h == "localhost" {
			h = "127.0.0.1"
		}
		return net.JoinHostPort(h, p)
	}
	return norm(a) == norm(b)
}
