package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/client"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
)

func nodeCommand() *ucli.Command {
	specFlags := []ucli.Flag{
		&ucli.StringFlag{Name: "id", Usage: "node id (letters, digits, . _ -)", Required: true},
		&ucli.StringFlag{Name: "address", Usage: "host name or IP address to reach the node at"},
		&ucli.IntFlag{Name: "port", Usage: "port to dial (default: 22 for ssh, 5986 for winrm, 5985 with --winrm-http or --winrm-insecure-http)"},
		&ucli.StringFlag{Name: "user", Usage: "login the steps run as (required for ssh and winrm)"},
		&ucli.StringSliceFlag{Name: "tag", Usage: "tag key=value (repeatable)"},
		&ucli.StringFlag{Name: "platform", Usage: "linux or windows", Value: node.PlatformLinux},
		&ucli.StringFlag{Name: "transport", Usage: "ssh, winrm (windows nodes; port 5986, HTTPS), or local for the worker's own host", Value: node.TransportSSH},
		&ucli.BoolFlag{Name: "winrm-http", Usage: "reach a winrm node over plain HTTP on port 5985, Windows' default listener, every message encrypted with the NTLM login's session security; needs an ntlm credential, pins no certificate"},
		&ucli.BoolFlag{Name: "winrm-insecure-http", Usage: "reach a winrm node over plain HTTP on port 5985 WITHOUT message encryption (the node must set AllowUnencrypted): neither the node nor the traffic is authenticated; for labs only"},
		&ucli.StringFlag{Name: "region", Usage: "region whose workers reach this node"},
		&ucli.StringFlag{Name: "host-key", Usage: `pinned SSH host key, e.g. "ssh-ed25519 AAAA...", or for winrm the certificate's fingerprint "sha256:<hex>"`},
		&ucli.StringFlag{Name: "credential", Usage: "name of the worker-held credential to log in with"},
		&ucli.BoolFlag{Name: "sudo", Usage: "run steps on this node through sudo -n (as root; needs a NOPASSWD sudoers rule for the login user); without it steps run as the login user"},
		&ucli.StringFlag{Name: "reboot-command", Usage: "shell command that reboots the node when a step exits 194 (default: shutdown -r now, as the login user; through sudo -n on a --sudo node); on windows a PowerShell command, run on exit 3010 (default: Restart-Computer -Force)"},
		&ucli.StringFlag{Name: "boot-id-command", Usage: "shell command printing an id that changes on every boot (default: cat /proc/sys/kernel/random/boot_id; on windows the last boot time)"},
		&ucli.DurationFlag{Name: "reboot-timeout", Usage: "how long a rebooted node may take to come back before its target ends TimedOut (default 10m)"},
	}
	return &ucli.Command{
		Name:  "node",
		Usage: "register and inspect managed nodes",
		Subcommands: []*ucli.Command{
			{
				Name:   "register",
				Usage:  "register a node, or replace the spec of a registered one",
				Flags:  append(specFlags, nodeConnectFlags()...),
				Action: nodeRegister,
			},
			{
				Name:      "import",
				Usage:     "register every node listed in a YAML file (see examples/nodes.yaml), or every host of an Ansible inventory",
				ArgsUsage: "FILE",
				Flags: append([]ucli.Flag{
					&ucli.StringFlag{Name: "format", Usage: "yaml (a list of nodes), or ansible: the JSON of ansible-inventory -i INVENTORY --list (ansible_host, ansible_port, ansible_user; groups become tags GROUP=true)", Value: "yaml"},
				}, connectFlags()...),
				Action: nodeImport,
			},
			{
				Name:   "list",
				Usage:  "list registered nodes",
				Flags:  append(connectFlags(), outputFlag),
				Action: nodeList,
			},
			{
				Name:      "describe",
				Usage:     "show a node and its change history",
				ArgsUsage: "ID",
				Flags:     append(connectFlags(), outputFlag),
				Action:    nodeDescribe,
			},
			{
				Name:      "history",
				Usage:     "list the executions that reached a node, newest first, with the node's outcome in each",
				ArgsUsage: "ID",
				Flags: append(connectFlags(), outputFlag,
					&ucli.IntFlag{Name: "limit", Usage: "show at most this many executions", Value: 20},
					&ucli.IntFlag{Name: "scan", Usage: "read at most this many executions' histories", Value: 200},
				),
				Action: nodeHistory,
			},
			{
				Name:      "deregister",
				Usage:     "stop managing a node",
				ArgsUsage: "ID",
				Flags:     connectFlags(),
				Action:    nodeDeregister,
			},
			nodeTrustCommand(),
		},
	}
}

func nodeRegister(c *ucli.Context) error {
	n := node.Node{
		ID: c.String("id"), Address: c.String("address"), Port: c.Int("port"), User: c.String("user"),
		Platform: c.String("platform"), Transport: c.String("transport"), Region: c.String("region"),
		HostKey: c.String("host-key"), Credential: c.String("credential"), Sudo: c.Bool("sudo"),
		RebootCommand: c.String("reboot-command"), BootIDCommand: c.String("boot-id-command"),
		WinRMHTTP: c.Bool("winrm-http"), WinRMInsecureHTTP: c.Bool("winrm-insecure-http"),
	}
	if n.WinRMInsecureHTTP {
		fmt.Fprintf(c.App.ErrWriter, "warning: node %s: winrm over plain HTTP authenticates neither the node nor the traffic; use it only in a lab (--winrm-http encrypts every message with NTLM)\n", n.ID)
	}
	if d := c.Duration("reboot-timeout"); c.IsSet("reboot-timeout") {
		if d < time.Second || d%time.Second != 0 {
			return fmt.Errorf("node %s: reboot timeout %s: want whole seconds, at least 1s", n.ID, d)
		}
		n.RebootTimeoutSeconds = int(d / time.Second)
	}
	for _, t := range c.StringSlice("tag") {
		k, v, err := node.ParseTag(t)
		if err != nil {
			return err
		}
		if n.Tags == nil {
			n.Tags = map[string]string{}
		}
		n.Tags[k] = v
	}
	n = n.WithDefaults()
	if c.IsSet("port") {
		// An explicit --port 0 is a mistake, not "the default".
		n.Port = c.Int("port")
	}
	cl := newClient(c)
	defer cl.Close()
	st, err := cl.RegisterNode(c.Context, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "node %s registered (revision %d)\n", n.ID, st.Revision)
	return nil
}

func nodeImport(c *ucli.Context) error {
	if c.NArg() != 1 {
		return errors.New("node import: want exactly one FILE")
	}
	data, err := os.ReadFile(c.Args().First())
	if err != nil {
		return fmt.Errorf("read node file: %w", err)
	}
	cl := newClient(c)
	defer cl.Close()
	importer := cl.ImportNodes
	switch f := c.String("format"); f {
	case "yaml":
	case "ansible":
		importer = cl.ImportAnsibleInventory
	default:
		return fmt.Errorf("node import: format %q: want yaml or ansible", f)
	}
	n, err := importer(c.Context, data)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%d nodes registered\n", n)
	return nil
}

func nodeList(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	nodes, err := cl.Nodes(c.Context)
	if err != nil {
		return err
	}
	if p.json {
		if nodes == nil {
			nodes = []node.Node{}
		}
		return p.value(nodes)
	}
	rows := make([][]string, 0, len(nodes))
	for _, n := range nodes {
		addr := n.Address
		if n.Transport == node.TransportSSH {
			addr = n.HostPort()
		}
		region := n.Region
		if region == "" {
			region = contract.DefaultRegion
		}
		rows = append(rows, []string{n.ID, addr, n.User, n.Platform, n.Transport, region, strings.Join(n.TagList(), ",")})
	}
	return p.table([]string{"ID", "ADDRESS", "USER", "PLATFORM", "TRANSPORT", "REGION", "TAGS"}, rows)
}

func nodeDescribe(c *ucli.Context) error {
	id, p, cl, err := openNamed(c, "ID")
	if err != nil {
		return err
	}
	defer cl.Close()
	st, err := cl.Node(c.Context, id)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(st)
	}
	n := st.Node
	// A local node has no port; no tags read as none, not as JSON's null.
	port, tags := "-", "-"
	if n.Port != 0 {
		port = fmt.Sprint(n.Port)
	}
	if len(n.Tags) > 0 {
		tags = strings.Join(n.TagList(), ", ")
	}
	if err := p.fields([][2]string{
		{"ID", n.ID}, {"Address", n.Address}, {"Port", port}, {"User", n.User},
		{"Platform", n.Platform}, {"Transport", n.Transport}, {"Region", n.Region},
		{"Host key", n.HostKey}, {"Credential", n.Credential}, {"Tags", tags},
		{"Revision", fmt.Sprint(st.Revision)},
	}); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer)
	rows := make([][]string, 0, len(st.Changes))
	for _, ch := range st.Changes {
		rows = append(rows, []string{fmt.Sprint(ch.Revision), ch.Action, ch.By, when(ch.At)})
	}
	return p.table([]string{"REVISION", "CHANGE", "BY", "AT"}, rows)
}

func nodeHistory(c *ucli.Context) error {
	id, p, cl, err := openNamed(c, "ID")
	if err != nil {
		return err
	}
	defer cl.Close()
	runs, err := cl.NodeHistory(c.Context, client.NodeHistoryRequest{Node: id, Limit: c.Int("limit"), Scan: c.Int("scan")})
	if err != nil {
		return err
	}
	return list(p, runs, []string{"STARTED", "ASSOCIATION", "EXECUTION", "REASON", "STATUS", "EXIT", "DETAIL"}, func(i int) []string {
		r := runs[i]
		return []string{when(r.StartedAt), r.Association, r.ExecutionID, r.Reason, r.Status, fmt.Sprint(r.ExitCode), r.DetailedStatus}
	})
}

func nodeDeregister(c *ucli.Context) error {
	id, err := oneArg(c, "ID")
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	if err := cl.DeregisterNode(c.Context, id); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "node %s deregistered\n", id)
	return nil
}
