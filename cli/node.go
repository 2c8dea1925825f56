package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/targets"
	"github.com/stead-io/stead/workflows"
)

func nodeCommand() *ucli.Command {
	specFlags := []ucli.Flag{
		&ucli.StringFlag{Name: "id", Usage: "node id (letters, digits, . _ -)", Required: true},
		&ucli.StringFlag{Name: "address", Usage: "host name or IP address to reach the node at"},
		&ucli.IntFlag{Name: "port", Usage: "SSH port", Value: 22},
		&ucli.StringFlag{Name: "user", Usage: "user the steps run as (default: the worker's user)"},
		&ucli.StringSliceFlag{Name: "tag", Usage: "tag key=value (repeatable)"},
		&ucli.StringFlag{Name: "platform", Usage: "linux or windows", Value: node.PlatformLinux},
		&ucli.StringFlag{Name: "transport", Usage: "ssh, or local for the worker's own host", Value: node.TransportSSH},
		&ucli.StringFlag{Name: "region", Usage: "region whose workers reach this node"},
		&ucli.StringFlag{Name: "host-key", Usage: `pinned SSH host key, e.g. "ssh-ed25519 AAAA..."`},
		&ucli.StringFlag{Name: "credential", Usage: "name of the worker-held credential to log in with"},
		&ucli.BoolFlag{Name: "sudo", Usage: "run steps on this node through sudo -n (as root; needs a NOPASSWD sudoers rule for the login user); without it steps run as the login user"},
		&ucli.StringFlag{Name: "reboot-command", Usage: "shell command that reboots the node when a step exits 194 (default: shutdown -r now, as the login user; through sudo -n on a --sudo node)"},
		&ucli.StringFlag{Name: "boot-id-command", Usage: "shell command printing an id that changes on every boot (default: cat /proc/sys/kernel/random/boot_id)"},
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
				Usage:     "register every node listed in a YAML file",
				ArgsUsage: "FILE",
				Flags:     connectFlags(),
				Action:    nodeImport,
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
	if err := n.Validate(); err != nil {
		return fmt.Errorf("node %s: %w", n.ID, err)
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	st, err := registerNode(c, cn, n)
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
	nodes, err := node.ParseImport(data)
	if err != nil {
		return err
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	// Register concurrently, then wait once until targeting sees every
	// node as registered: a fleet of thousands imports in seconds.
	registered := make([]node.Node, len(nodes))
	errs := make([]error, len(nodes))
	sem := make(chan struct{}, importConcurrency)
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var st workflows.NodeState
			st, errs[i] = sendRegistration(c, cn, n)
			registered[i] = st.Node
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := awaitAllVisible(c, cn, registered); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%d nodes registered\n", len(nodes))
	return nil
}

// importConcurrency bounds the registrations node import sends at once.
const importConcurrency = 16

// awaitAllVisible waits until a listing of every node shows each of want
// with its new spec.
func awaitAllVisible(c *ucli.Context, cn *conn, want []node.Node) error {
	q, err := targets.NodeQuery(nil)
	if err != nil {
		return err
	}
	within := visibleWithin + time.Duration(len(want))*time.Millisecond
	deadline := time.Now().Add(within)
	for {
		seen, err := node.List(c.Context, cn.client, cn.namespace, cn.dc, q)
		if err != nil {
			// A listing can time out while the server indexes a large
			// import; only the deadline ends the wait.
			if time.Now().After(deadline) || c.Context.Err() != nil {
				return err
			}
			time.Sleep(time.Second)
			continue
		}
		byID := make(map[string]node.Node, len(seen))
		for _, n := range seen {
			byID[n.ID] = n
		}
		missing := 0
		for _, n := range want {
			if got, ok := byID[n.ID]; !ok || !reflect.DeepEqual(normalized(got), normalized(n)) {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes registered but not yet visible to targeting after %s", missing, len(want), within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// visibleWithin bounds how long register waits for a node to become
// targetable (visibility is updated asynchronously by the server).
const visibleWithin = 10 * time.Second

// registerNode starts the node's workflow if needed and sends it the spec,
// then waits until a targeting query sees the new spec, so an association
// created right after registration finds the node.
func registerNode(c *ucli.Context, cn *conn, n node.Node) (workflows.NodeState, error) {
	st, err := sendRegistration(c, cn, n)
	if err != nil {
		return st, err
	}
	err = awaitVisible(c, cn, n.ID, func(seen []node.Node) bool {
		return len(seen) == 1 && reflect.DeepEqual(normalized(seen[0]), normalized(st.Node))
	})
	return st, err
}

// sendRegistration starts the node's workflow if needed and sends it the
// spec with update-with-start.
func sendRegistration(c *ucli.Context, cn *conn, n node.Node) (workflows.NodeState, error) {
	var st workflows.NodeState
	err := updateWithStart(c, cn, contract.NodeWorkflowID(n.ID), contract.NodeWorkflow, workflows.NodeState{},
		contract.NodeUpdateRegister, workflows.RegisterNodeRequest{Node: n, By: cn.identity}, &st)
	if err != nil {
		return st, fmt.Errorf("register node %s: %w", n.ID, err)
	}
	return st, nil
}

// awaitVisible polls what targeting sees of a node until done says so:
// the server updates visibility asynchronously, and a command that returns
// before targeting agrees would surprise the next command.
func awaitVisible(c *ucli.Context, cn *conn, id string, done func([]node.Node) bool) error {
	q, err := targets.NodeQuery([]targets.Target{{Key: targets.KeyInstanceIDs, Values: []string{id}}})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(visibleWithin)
	for {
		seen, err := node.List(c.Context, cn.client, cn.namespace, cn.dc, q)
		if err != nil {
			return err
		}
		if done(seen) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s changed but targeting does not see the change after %s", id, visibleWithin)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// normalized treats a nil and an empty tag map alike, as JSON does.
func normalized(n node.Node) node.Node {
	if len(n.Tags) == 0 {
		n.Tags = nil
	}
	return n
}

func nodeList(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	q, err := targets.NodeQuery(nil)
	if err != nil {
		return err
	}
	nodes, err := node.List(c.Context, cn.client, cn.namespace, cn.dc, q)
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
	id, p, cn, err := openNamed(c, "ID")
	if err != nil {
		return err
	}
	defer cn.client.Close()
	st, err := describeNode(c, cn, id)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(st)
	}
	n := st.Node
	tags, _ := json.Marshal(n.Tags)
	if err := p.fields([][2]string{
		{"ID", n.ID}, {"Address", n.Address}, {"Port", fmt.Sprint(n.Port)}, {"User", n.User},
		{"Platform", n.Platform}, {"Transport", n.Transport}, {"Region", n.Region},
		{"Host key", n.HostKey}, {"Credential", n.Credential}, {"Tags", string(tags)},
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

// describeNode queries a running node workflow for its state.
func describeNode(c *ucli.Context, cn *conn, id string) (workflows.NodeState, error) {
	var st workflows.NodeState
	if err := node.ValidID(id); err != nil {
		return st, err
	}
	v, err := cn.client.QueryWorkflow(c.Context, contract.NodeWorkflowID(id), "", contract.NodeQueryDescribe)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		return st, notFound(err, "node "+id+" is not registered", "describe node "+id)
	}
	if st.Revision == 0 || isClosed(c, cn, contract.NodeWorkflowID(id)) {
		return st, fmt.Errorf("node %s is not registered", id)
	}
	return st, nil
}

func nodeDeregister(c *ucli.Context) error {
	id, cn, err := openArg(c, "ID")
	if err != nil {
		return err
	}
	defer cn.client.Close()
	if _, err := describeNode(c, cn, id); err != nil {
		return err
	}
	if err := sendUpdate(c, cn, contract.NodeWorkflowID(id), contract.NodeUpdateDeregister, workflows.DeregisterNodeRequest{By: cn.identity}, nil); err != nil {
		return notFound(err, "node "+id+" is not registered", "deregister node "+id)
	}
	if err := awaitVisible(c, cn, id, func(seen []node.Node) bool { return len(seen) == 0 }); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "node %s deregistered\n", id)
	return nil
}

// oneArg returns the command's single positional argument.
func oneArg(c *ucli.Context, name string) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s: want exactly one %s argument", c.Command.FullName(), name)
	}
	return c.Args().First(), nil
}

// notFound turns Temporal's not-found into the caller's message and wraps
// anything else with what was being done.
func notFound(err error, missing, doing string) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return errors.New(missing)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// isClosed reports whether the latest run of a workflow has ended.
func isClosed(c *ucli.Context, cn *conn, workflowID string) bool {
	d, err := cn.client.DescribeWorkflowExecution(c.Context, workflowID, "")
	if err != nil {
		return true
	}
	return d.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING
}
