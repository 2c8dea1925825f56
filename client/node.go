package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/targets"
	"github.com/stead-io/stead/internal/transport"
	"github.com/stead-io/stead/internal/transport/winrm"
	"github.com/stead-io/stead/workflows"
)

// RegisterNode registers a node, or replaces a registered node's spec (a
// new revision), and returns once targeting sees the new spec, so an
// association created next finds the node. Give n its defaults
// (node.Node.WithDefaults) first: a field left out is a problem here.
func (c *Client) RegisterNode(ctx context.Context, n node.Node) (workflows.NodeState, error) {
	if err := n.Validate(); err != nil {
		return workflows.NodeState{}, invalid(fmt.Errorf("node %s: %w", n.ID, err))
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return workflows.NodeState{}, err
	}
	st, err := c.sendRegistration(ctx, cn, n)
	if err != nil {
		return st, err
	}
	err = c.awaitNode(ctx, cn, n.ID, func(seen []node.Node) bool {
		return len(seen) == 1 && reflect.DeepEqual(normalized(seen[0]), normalized(st.Node))
	})
	return st, err
}

// importConcurrency bounds the registrations ImportNodes sends at once.
const importConcurrency = 16

// ImportNodes registers every node of a node file (node.ParseImport: a
// YAML list of node specs), all or nothing as far as checking goes: any
// problem in the file registers none. It returns once targeting sees
// every node, and how many there were.
func (c *Client) ImportNodes(ctx context.Context, file []byte) (int, error) {
	return c.importWith(ctx, file, node.ParseImport)
}

// ImportAnsibleInventory registers every host of an Ansible inventory, as
// `ansible-inventory --list` prints it (see node.ParseAnsibleInventory),
// all or nothing as ImportNodes.
func (c *Client) ImportAnsibleInventory(ctx context.Context, inventory []byte) (int, error) {
	return c.importWith(ctx, inventory, node.ParseAnsibleInventory)
}

// importWith registers the nodes parse reads from file.
func (c *Client) importWith(ctx context.Context, file []byte, parse func([]byte) ([]node.Node, error)) (int, error) {
	nodes, err := parse(file)
	if err != nil {
		return 0, invalid(err)
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return 0, err
	}
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
			st, errs[i] = c.sendRegistration(ctx, cn, n)
			registered[i] = st.Node
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return len(nodes), c.awaitAllNodes(ctx, cn, registered)
}

// sendRegistration starts the node's workflow if needed and sends it the
// spec with update-with-start.
func (c *Client) sendRegistration(ctx context.Context, cn *Connection, n node.Node) (workflows.NodeState, error) {
	var st workflows.NodeState
	err := updateWithStart(ctx, cn, contract.NodeWorkflowID(n.ID), contract.NodeWorkflow, workflows.NodeState{},
		contract.NodeUpdateRegister, workflows.RegisterNodeRequest{Node: n, By: cn.Identity}, &st)
	if err != nil {
		return st, refusal(err, "node "+n.ID+" is not registered", "register node "+n.ID)
	}
	return st, nil
}

// awaitNode waits until what targeting sees of one node satisfies done.
func (c *Client) awaitNode(ctx context.Context, cn *Connection, id string, done func([]node.Node) bool) error {
	q, err := targets.NodeQuery([]targets.Target{{Key: targets.KeyInstanceIDs, Values: []string{id}}})
	if err != nil {
		return err
	}
	return awaitVisible(ctx, visibleWithin,
		func(ctx context.Context) (bool, error) {
			seen, err := node.List(ctx, cn.Temporal, cn.Namespace, cn.DataConverter, q)
			return err == nil && done(seen), err
		}, nil,
		func(error) error {
			return fmt.Errorf("node %s changed but targeting does not see the change after %s", id, visibleWithin)
		})
}

// awaitAllNodes waits until a listing of every node shows each of want
// with its new spec.
func (c *Client) awaitAllNodes(ctx context.Context, cn *Connection, want []node.Node) error {
	q, err := targets.NodeQuery(nil)
	if err != nil {
		return err
	}
	within := visibleWithin + time.Duration(len(want))*time.Millisecond
	missing := 0
	return awaitVisible(ctx, within,
		func(ctx context.Context) (bool, error) {
			seen, err := node.List(ctx, cn.Temporal, cn.Namespace, cn.DataConverter, q)
			if err != nil {
				return false, err
			}
			byID := make(map[string]node.Node, len(seen))
			for _, n := range seen {
				byID[n.ID] = n
			}
			missing = 0
			for _, n := range want {
				if got, ok := byID[n.ID]; !ok || !reflect.DeepEqual(normalized(got), normalized(n)) {
					missing++
				}
			}
			return missing == 0, nil
		},
		// A listing can time out while the server indexes a large
		// import; only the deadline ends the wait.
		func(error) bool { return ctx.Err() == nil },
		func(last error) error {
			if last != nil {
				return last
			}
			return fmt.Errorf("%d of %d nodes registered but not yet visible to targeting after %s", missing, len(want), within)
		})
}

// normalized treats a nil and an empty tag map alike, as JSON does.
func normalized(n node.Node) node.Node {
	if len(n.Tags) == 0 {
		n.Tags = nil
	}
	return n
}

// Nodes lists every registered node.
func (c *Client) Nodes(ctx context.Context) ([]node.Node, error) {
	return c.nodesMatching(ctx, nil)
}

// nodesMatching lists the registered nodes the targets select (every node
// for none).
func (c *Client) nodesMatching(ctx context.Context, ts []targets.Target) ([]node.Node, error) {
	cn, q, err := c.nodeQuery(ctx, ts)
	if err != nil {
		return nil, err
	}
	return node.List(ctx, cn.Temporal, cn.Namespace, cn.DataConverter, q)
}

// nodeQuery is the connection and the visibility query that select the
// registered nodes the targets select.
func (c *Client) nodeQuery(ctx context.Context, ts []targets.Target) (*Connection, string, error) {
	q, err := targets.NodeQuery(ts)
	if err != nil {
		return nil, "", invalid(err)
	}
	cn, err := c.connect(ctx)
	return cn, q, err
}

// Node returns a registered node's spec, revision and change history.
func (c *Client) Node(ctx context.Context, id string) (workflows.NodeState, error) {
	var st workflows.NodeState
	if err := node.ValidID(id); err != nil {
		return st, invalid(err)
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return st, err
	}
	missing := "node " + id + " is not registered"
	v, err := cn.Temporal.QueryWorkflow(ctx, contract.NodeWorkflowID(id), "", contract.NodeQueryDescribe)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		return st, refusal(err, missing, "describe node "+id)
	}
	closed, err := isClosed(ctx, cn, contract.NodeWorkflowID(id))
	if err != nil {
		return st, fmt.Errorf("describe node %s: %w", id, err)
	}
	if st.Revision == 0 || closed {
		return st, notFound(missing, nil)
	}
	return st, nil
}

// DeregisterNode stops managing a node, and returns once targeting no
// longer sees it.
func (c *Client) DeregisterNode(ctx context.Context, id string) error {
	if _, err := c.Node(ctx, id); err != nil {
		return err
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	if err := sendUpdate(ctx, cn, contract.NodeWorkflowID(id), contract.NodeUpdateDeregister, workflows.DeregisterNodeRequest{By: cn.Identity}, nil); err != nil {
		return refusal(err, "node "+id+" is not registered", "deregister node "+id)
	}
	return c.awaitNode(ctx, cn, id, func(seen []node.Node) bool { return len(seen) == 0 })
}

// trustTimeout bounds the key exchange with a node.
const trustTimeout = 10 * time.Second

// HostKeyCheck is what a node presents against what Stead pins for it.
type HostKeyCheck struct {
	// Node is the node's registered spec.
	Node node.Node
	// Presented is the key the node presented, in authorized_keys form.
	Presented string
	// Type is the presented key's algorithm (ssh-ed25519, ...).
	Type string
	// Fingerprint is the presented key's SHA256 fingerprint, as
	// ssh-keygen -l prints it.
	Fingerprint string
	// Pinned is the fingerprint of the key the node pins, "" for none.
	Pinned string
}

// CheckHostKey fetches the host key a registered SSH node presents, from
// this machine: only the key exchange runs, no credential is needed and
// nothing runs on the node.
func (c *Client) CheckHostKey(ctx context.Context, id string) (HostKeyCheck, error) {
	st, err := c.Node(ctx, id)
	if err != nil {
		return HostKeyCheck{}, err
	}
	n := st.Node
	if n.Transport == node.TransportWinRM {
		return checkCertificate(ctx, n)
	}
	if n.Transport != node.TransportSSH {
		return HostKeyCheck{}, invalid(fmt.Errorf("node %s uses the %s transport: it has no SSH host key", id, n.Transport))
	}
	presented, err := transport.FetchHostKey(ctx, transport.Target{
		NodeID: n.ID, Address: n.Address, Port: n.Port, User: n.User,
		Kind: n.Transport, HostKey: n.HostKey, Credential: n.Credential,
	}, trustTimeout)
	if err != nil {
		return HostKeyCheck{}, fmt.Errorf("fetch host key of node %s: %w", id, err)
	}
	got, err := fingerprint(presented)
	if err != nil {
		return HostKeyCheck{}, fmt.Errorf("fetch host key of node %s: %w", id, err)
	}
	check := HostKeyCheck{Node: n, Presented: presented, Type: keyType(presented), Fingerprint: got}
	if n.HostKey != "" {
		if check.Pinned, err = fingerprint(n.HostKey); err != nil {
			return HostKeyCheck{}, fmt.Errorf("node %s: pinned host key: %w", id, err)
		}
	}
	return check, nil
}

// checkCertificate fetches the TLS certificate a WinRM node presents: only
// the handshake runs, no credential is sent. Its fingerprint is what the
// node pins.
func checkCertificate(ctx context.Context, n node.Node) (HostKeyCheck, error) {
	fp, err := winrm.FetchCertificate(ctx, transport.Target{NodeID: n.ID, Address: n.Address, Port: n.Port, Kind: n.Transport, HTTP: n.WinRMHTTP, InsecureHTTP: n.WinRMInsecureHTTP}, trustTimeout)
	if err != nil {
		return HostKeyCheck{}, fmt.Errorf("fetch the certificate of node %s: %w", n.ID, err)
	}
	check := HostKeyCheck{Node: n, Presented: fp, Type: "certificate", Fingerprint: fp}
	if n.HostKey != "" {
		if check.Pinned, err = winrm.ParseFingerprint(n.HostKey); err != nil {
			return HostKeyCheck{}, fmt.Errorf("node %s: pinned certificate: %w", n.ID, err)
		}
	}
	return check, nil
}

// PinHostKey pins the key a check found on its node: a new revision of
// the node whose host key is the presented one.
func (c *Client) PinHostKey(ctx context.Context, check HostKeyCheck) (workflows.NodeState, error) {
	n := check.Node
	n.HostKey = check.Presented
	return c.RegisterNode(ctx, n)
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
