package testwinrm

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stead-io/stead/internal/transport/winrm"
)

// User and Password are the login Start is usually given.
const (
	User     = "Administrator"
	Password = "Test-Passw0rd!"
)

// PasswordFile writes password to a 0600 file, as a worker's WinRM
// credential holds it, and returns its path.
func PasswordFile(t testing.TB, password string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "winrm-password")
	if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
		t.Fatalf("write password file: %v", err)
	}
	return path
}

// Dialer is a WinRM dialer whose "default" credential is Basic with
// password.
func Dialer(t testing.TB, password string) *winrm.Dialer {
	t.Helper()
	d, err := winrm.NewDialer(winrm.Config{Credentials: map[string]winrm.Credential{
		"default": {Auth: winrm.AuthBasic, PasswordFile: PasswordFile(t, password)},
	}})
	if err != nil {
		t.Fatalf("configure winrm: %v", err)
	}
	return d
}
