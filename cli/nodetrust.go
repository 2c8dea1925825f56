package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/internal/transport/winrm"
)

func nodeTrustCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "trust",
		Usage: "fetch a node's SSH host key (or a winrm node's TLS certificate), show its fingerprint and pin it once confirmed",
		Description: "Only the SSH key exchange (or the TLS handshake) runs, from this machine: no credential is needed and nothing runs on the node. " +
			"Compare the fingerprint with one obtained out of band (e.g. `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on its console; " +
			"for a winrm node the SHA-256 of the WinRM listener's certificate, e.g. `(Get-FileHash -Algorithm SHA256 cert.cer).Hash` of its export). " +
			"A node whose pinned key no longer matches is never re-pinned without --replace.",
		ArgsUsage: "ID",
		Flags: append([]ucli.Flag{
			&ucli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "pin without asking (for scripts; prefer --fingerprint)"},
			&ucli.StringFlag{Name: "fingerprint", Usage: "pin only if the node presents this SHA256:... fingerprint (sha256:<hex> for a winrm certificate), without asking"},
			&ucli.BoolFlag{Name: "replace", Usage: "replace a pinned key the node no longer presents"},
		}, connectFlags()...),
		Action: nodeTrust,
	}
}

func nodeTrust(c *ucli.Context) error {
	id, err := oneArg(c, "ID")
	if err != nil {
		return err
	}
	want := c.String("fingerprint")
	if cert, err := winrm.ParseFingerprint(want); err == nil {
		want = cert
	} else if want != "" && !strings.HasPrefix(want, "SHA256:") {
		return fmt.Errorf("fingerprint %q: want SHA256:... as ssh-keygen -l prints it, or sha256:<64 hex digits> for a certificate", want)
	}
	cl := newClient(c)
	defer cl.Close()
	check, err := cl.CheckHostKey(c.Context, id)
	if err != nil {
		return err
	}
	got := check.Fingerprint
	w := c.App.Writer
	question := "Pin this key?"
	if old := check.Pinned; old != "" {
		if old == got {
			fmt.Fprintf(w, "node %s already pins host key %s\n", id, got)
			return nil
		}
		if !c.Bool("replace") {
			return fmt.Errorf("node %s presents host key %s but %s is pinned: the host was reinstalled or something is between you and it; verify the new key out of band, then run `stead node trust %s --replace`", id, got, old, id)
		}
		fmt.Fprintf(w, "WARNING: node %s (%s) presents a different host key than the one pinned.\n  pinned:    %s\n  presented: %s %s\n", id, check.Node.HostPort(), old, check.Type, got)
		question = "Replace the pinned key?"
	} else {
		fmt.Fprintf(w, "node %s (%s) presents host key %s %s\n", id, check.Node.HostPort(), check.Type, got)
	}
	switch {
	case want != "":
		if want != got {
			return fmt.Errorf("node %s presents host key %s, not the expected %s: nothing pinned", id, got, want)
		}
	case c.Bool("yes"):
	default:
		fmt.Fprintf(w, "%s [y/N] ", question)
		if !confirmed(c.App.Reader) {
			fmt.Fprintln(w)
			return fmt.Errorf("node %s: host key not pinned (not confirmed)", id)
		}
	}
	st, err := cl.PinHostKey(c.Context, check)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "node %s: pinned host key %s (revision %d)\n", id, got, st.Revision)
	return nil
}

// confirmed reads one answer line; only y or yes agrees, and no answer
// (end of input) does not.
func confirmed(r io.Reader) bool {
	if r == nil {
		return false
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && line == "" {
		return false
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}
