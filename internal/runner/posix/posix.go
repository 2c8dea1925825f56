package posix

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/transport"
)

// Runner is the runner.Runner of POSIX nodes: Linux, and anything with a
// POSIX sh and coreutils or busybox. Its zero value is ready to use.
type Runner struct{}

// Shell implements runner.Runner: scripts are sh scripts.
func (Runner) Shell() string { return documents.ShellSh }

// Reboot defaults, for nodes that give no commands of their own.
const (
	DefaultRebootCommand = "shutdown -r now"
	DefaultBootIDCommand = "cat /proc/sys/kernel/random/boot_id"
)

// rebootProgram records the current boot id in the step's run directory,
// then runs the reboot command. If the run directory already records a
// boot id other than the current one, the reboot happened (an earlier
// attempt issued it) and the node is not rebooted again.
const rebootProgram = `# Stead: reboot for run @RUNID@.
d="$HOME/.stead/runs/@RUNID@"
mkdir -p "$d" || exit 90
cur=$(sh -c @BOOTID@ 2>/dev/null | tr -d ' \n\r\t')
[ -n "$cur" ] || { echo "the boot id command printed nothing" >&2; exit 91; }
if [ -f "$d/rebooted-from" ]; then
	old=$(cat "$d/rebooted-from")
	if [ "$old" != "$cur" ]; then
		printf 'STEAD1 rebooted %s\n' "$old"
		exit 0
	fi
else
	printf '%s\n' "$cur" >"$d/rebooted-from"
fi
printf 'STEAD1 rebooting %s\n' "$cur"
sh -c @REBOOT@ </dev/null
`

// Reboot implements runner.Runner with one session running rebootProgram.
// The reboot command runs as the login user, through `sudo -n` only when
// r.Sudo is set.
func (Runner) Reboot(ctx context.Context, c transport.Communicator, r runner.Reboot) (string, error) {
	if _, err := normalize(runner.Spec{RunID: r.RunID}); err != nil {
		return "", fmt.Errorf("reboot for run %s: %w", r.RunID, err)
	}
	reboot := shellQuote(orDefault(r.Command, DefaultRebootCommand))
	if r.Sudo {
		reboot = shellQuote("sudo -n sh -c " + reboot)
	}
	program := strings.NewReplacer(
		"@RUNID@", r.RunID,
		"@BOOTID@", shellQuote(orDefault(r.BootIDCommand, DefaultBootIDCommand)),
		"@REBOOT@", reboot,
	).Replace(rebootProgram)
	var out, errOut bytes.Buffer
	code, runErr := c.Run(ctx, "sh -c "+shellQuote(program), nil, &out, &errOut)
	state, bootID := rebootHeader(out.String())
	switch {
	case state == "rebooted":
		return bootID, nil
	case state == "rebooting" && (runErr != nil || code == 0):
		// Issued: it returned, or the node went down under it.
		return bootID, nil
	case state == "rebooting":
		return "", fmt.Errorf("%w: the reboot command exited %d: %s", runner.ErrRebootFailed, code, runner.FirstLine(errOut.Bytes()))
	case runErr != nil:
		return "", fmt.Errorf("reboot for run %s: %w", r.RunID, runErr)
	default:
		return "", fmt.Errorf("%w: read the boot id: exit status %d: %s", runner.ErrRebootFailed, code, runner.FirstLine(errOut.Bytes()))
	}
}

// rebootHeader parses rebootProgram's "STEAD1 STATE BOOTID" line.
func rebootHeader(out string) (state, bootID string) {
	line, _, _ := strings.Cut(out, "\n")
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "STEAD1" {
		return "", ""
	}
	return f[1], f[2]
}

// BootID implements runner.Runner: it runs the command with sh.
func (Runner) BootID(ctx context.Context, c transport.Communicator, command string) (string, error) {
	var out, errOut bytes.Buffer
	code, err := c.Run(ctx, "sh -c "+shellQuote(orDefault(command, DefaultBootIDCommand)), nil, &out, &errOut)
	if err != nil {
		return "", fmt.Errorf("read boot id: %w", err)
	}
	if code != 0 {
		return "", fmt.Errorf("read boot id: exit status %d: %s", code, runner.FirstLine(errOut.Bytes()))
	}
	return strings.Join(strings.Fields(out.String()), ""), nil
}

// ReadFile implements runner.Runner through the communicator's Download:
// a POSIX path means the same to the node's shell and to the file
// transfer.
func (Runner) ReadFile(ctx context.Context, c transport.Communicator, path string, limit int64) ([]byte, error) {
	var b bytes.Buffer
	if _, _, err := c.Download(ctx, path, &b, limit); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Upload implements runner.Runner through the communicator's Upload, for
// the same reason as ReadFile.
func (Runner) Upload(ctx context.Context, c transport.Communicator, dest string, r io.Reader, perm os.FileMode) (string, error) {
	return c.Upload(ctx, dest, r, perm)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
