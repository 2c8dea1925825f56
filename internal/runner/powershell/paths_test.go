package powershell_test

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/runner/powershell"
)

func TestSFTPPath(t *testing.T) {
	for in, want := range map[string]string{
		`C:\Temp\tool.ps1`:   "/C:/Temp/tool.ps1",
		`d:/data/x`:          "/D:/data/x",
		`docs\setup.json`:    "docs/setup.json",
		`docs\.\setup.json`:  "docs/setup.json",
		`C:\Program Files\x`: "/C:/Program Files/x",
	} {
		got, err := powershell.SFTPPath(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		if strings.Contains(in, `:`) {
			require.Equal(t, strings.ReplaceAll(strings.ToUpper(in[:1])+in[1:], "/", `\`), powershell.WindowsPath(got))
		}
	}
	for _, bad := range []string{`\\server\share\x`, `\Windows\x`, `C:`, `C:relative`, `docs\..\..\x`, `.`, `http://x/y`} {
		_, err := powershell.SFTPPath(bad)
		require.Error(t, err, bad)
	}
	require.Equal(t, `C:\Users\stead\docs\setup.json`, powershell.WindowsPath("/C:/Users/stead/docs/setup.json"))
}

// TestCommandLineMeansTheSameToEveryShell: Windows OpenSSH hands a command
// line to its default shell, cmd.exe /c or powershell.exe -c, and WinRM to
// cmd.exe. The runner's one command line holds no character either shell
// treats specially (quotes, escapes, variables, operators, redirections),
// so each splits it at its spaces into the same words, and it stays far
// below cmd.exe's 8,191 characters.
func TestCommandLineMeansTheSameToEveryShell(t *testing.T) {
	line := powershell.CommandLine()
	require.Less(t, len(line), 8191)
	require.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9 ./+=-]+$`), line, "no character cmd.exe or PowerShell interprets")
	words := strings.Split(line, " ")
	require.Equal(t, "powershell.exe", words[0])
	require.Equal(t, strings.Fields(powershell.PowerShellArgs), words[1:len(words)-2])
	require.Equal(t, "-EncodedCommand", words[len(words)-2])
	b, err := base64.StdEncoding.DecodeString(words[len(words)-1])
	require.NoError(t, err)
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	require.Contains(t, string(utf16.Decode(units)), "$input", "the bootstrap reads the program from stdin, not from the command line")
}
