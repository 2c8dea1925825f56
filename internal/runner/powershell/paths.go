package powershell

import (
	"fmt"
	"path"
	"strings"
)

// SFTPPath is how Windows OpenSSH's sftp server names the Windows path p:
// "C:\dir\file" is "/C:/dir/file", and a relative "dir\file" stays
// relative ("dir/file"), from the login's profile as for every other
// operation. Paths SFTP cannot name (UNC shares, a root without a drive,
// "..") are an error.
func SFTPPath(p string) (string, error) {
	slashed := strings.ReplaceAll(p, `\`, "/")
	switch {
	case len(slashed) >= 3 && isLetter(slashed[0]) && slashed[1] == ':' && slashed[2] == '/':
		slashed = "/" + strings.ToUpper(slashed[:1]) + slashed[1:]
	case len(slashed) == 2 && isLetter(slashed[0]) && slashed[1] == ':', strings.HasPrefix(slashed, "/"), strings.Contains(slashed, ":"):
		return "", fmt.Errorf("path %q: sftp names only drive paths (C:\\dir\\file) and paths relative to the profile", p)
	}
	for seg := range strings.SplitSeq(slashed, "/") {
		if seg == ".." {
			return "", fmt.Errorf("path %q: want no .. segment", p)
		}
	}
	if cleaned := path.Clean(slashed); cleaned != "." {
		return cleaned, nil
	}
	return "", fmt.Errorf("path %q: names no file", p)
}

// WindowsPath is the Windows name of a path Windows OpenSSH's sftp server
// gives: "/C:/dir/file" is "C:\dir\file".
func WindowsPath(p string) string {
	if len(p) >= 3 && p[0] == '/' && isLetter(p[1]) && p[2] == ':' {
		p = p[1:]
	}
	return strings.ReplaceAll(p, "/", `\`)
}

func isLetter(b byte) bool { return 'a' <= b|0x20 && b|0x20 <= 'z' }
