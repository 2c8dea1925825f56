package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"

	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/transport"
)

// trustTimeout bounds the key exchange with the node.
const trustTimeout = 10 * time.Second

func nodeTrustCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "trust",
		Usage: "fetch a node's SSH host key, show its fingerprint and pin it once confirmed",
		Description: "Only the SSH key exchange runs, from this machine: no credential is needed and nothing runs on the node. " +
			"Compare the fingerprint with one obtained out of band (e.g. `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on its console). " +
			"A node whose pinned key no longer matches is never re-pinned without --replace.",
		ArgsUsage: "ID",
		Flags: append([]ucli.Flag{
			&ucli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "pin without asking (for scripts; prefer --fingerprint)"},
			&ucli.StringFlag{Name: "fingerprint", Usage: "pin only if the node presents this SHA256:... fingerprint, without asking"},
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
	if want != "" && !strings.HasPrefix(want, "SHA256:") {
		return fmt.Errorf("fingerprint %q: want SHA256:... as ssh-keygen -l prints it", want)
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	st, err := describeNode(c, cn, id)
	if err != nil {
		return err
	}
	n := st.Node
	if n.Transport != node.TransportSSH {
		return fmt.Errorf("node %s uses the %s transport: it has no SSH host key", id, n.Transport)
	}
	presented, err := transport.FetchHostKey(c.Context, transport.Target{
		NodeID: n.ID, Address: n.Address, Port: n.Port, User: n.User,
		Kind: n.Transport, HostKey: n.HostKey, Credential: n.Credential,
	}, trustTimeout)
	if err != nil {
		return fmt.Errorf("fetch host key of node %s: %w", id, err)
	}
	got, err := fingerprint(presented)
	if err != nil {
		return fmt.Errorf("fetch host key of node %s: %w", id, err)
	}
	w := c.App.Writer
	question := "Pin this key?"
	if n.HostKey != "" {
		old, err := fingerprint(n.HostKey)
		if err != nil {
			return fmt.Errorf("node %s: pinned host key: %w", id, err)
		}
		if old == got {
			fmt.Fprintf(w, "node %s already pins host key %s\n", id, got)
			return nil
		}
		if !c.Bool("replace") {
			return fmt.Errorf("node %s presents host key %s but %s is pinned: the host was reinstalled or something is between you and it; verify the new key out of band, then run `stead node trust %s --replace`", id, got, old, id)
		}
		fmt.Fprintf(w, "WARNING: node %s (%s) presents a different host key than the one pinned.\n  pinned:    %s\n  presented: %s %s\n", id, n.HostPort(), old, keyType(presented), got)
		question = "Replace the pinned key?"
	} else {
		fmt.Fprintf(w, "node %s (%s) presents host key %s %s\n", id, n.HostPort(), keyType(presented), got)
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
	n.HostKey = presented
	st, err = registerNode(c, cn, n)
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

// fingerprint is the SHA256 fingerprint of a key in authorized_keys form,
// as ssh-keygen -l prints it.
func fingerprint(authorized string) (string, error) {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorized))
	if err != nil {
		return "", fmt.Errorf("parse host key: %w", err)
	}
	return ssh.FingerprintSHA256(k), nil
}

// keyType is the algorithm name at the start of an authorized_keys line.
func keyType(authorized string) string {
	t, _, _ := bytes.Cut([]byte(authorized), []byte(" "))
	return string(t)
}
