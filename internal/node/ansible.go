package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/stead-io/stead/internal/problems"
)

// ansibleInventory is the JSON `ansible-inventory --list` prints: a map of
// groups, each with its hosts and child groups, and under "_meta" every
// host's variables (group variables already merged in).
type ansibleGroup struct {
	Hosts    []string `json:"hosts"`
	Children []string `json:"children"`
}

// ansibleHostVars are the host variables Stead reads; the others stay in
// Ansible.
type ansibleHostVars struct {
	Host       string `json:"ansible_host"`
	Port       any    `json:"ansible_port"`
	User       string `json:"ansible_user"`
	Connection string `json:"ansible_connection"`
	Become     any    `json:"ansible_become"`
}

// ansibleImplicitGroups hold every host; as tags they would say nothing.
var ansibleImplicitGroups = []string{"all", "ungrouped"}

// ParseAnsibleInventory reads the JSON `ansible-inventory -i INVENTORY
// --list` prints, so a fleet kept in Ansible comes over in one command.
// Each host is a node of that id: ansible_host (else the host name) is its
// address, ansible_port its port, ansible_user its login,
// ansible_connection=local the local transport, ansible_become sudo; each
// group it belongs to, directly or through child groups, is a tag
// GROUP=true. Like ParseImport it validates every node and returns every
// problem at once, naming the host.
func ParseAnsibleInventory(data []byte) ([]Node, error) {
	if len(data) > MaxImportBytes {
		return nil, fmt.Errorf("inventory is %d bytes: the limit is %d", len(data), MaxImportBytes)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse ansible inventory (the JSON of ansible-inventory --list): %w", err)
	}
	var meta struct {
		HostVars map[string]ansibleHostVars `json:"hostvars"`
	}
	if m, ok := raw["_meta"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, fmt.Errorf("parse ansible inventory _meta: %w", err)
		}
	}
	groups := map[string]ansibleGroup{}
	for name, g := range raw {
		if name == "_meta" {
			continue
		}
		var grp ansibleGroup
		if err := json.Unmarshal(g, &grp); err != nil {
			return nil, fmt.Errorf("parse ansible inventory group %s: %w", name, err)
		}
		groups[name] = grp
	}
	// Every host with the groups it is in, through children too.
	memberOf := map[string]map[string]bool{}
	var walk func(group string, into []string, seen map[string]bool)
	walk = func(group string, into []string, seen map[string]bool) {
		if seen[group] {
			return
		}
		seen[group] = true
		g := groups[group]
		path := append(slices.Clone(into), group)
		for _, h := range g.Hosts {
			if memberOf[h] == nil {
				memberOf[h] = map[string]bool{}
			}
			for _, p := range path {
				memberOf[h][p] = true
			}
		}
		for _, c := range g.Children {
			walk(c, path, seen)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		walk(name, nil, map[string]bool{})
	}
	for h := range meta.HostVars {
		if memberOf[h] == nil {
			memberOf[h] = map[string]bool{}
		}
	}
	if len(memberOf) == 0 {
		return nil, errors.New("ansible inventory lists no hosts")
	}
	var errs problems.List
	var nodes []Node
	for _, host := range slices.Sorted(maps.Keys(memberOf)) {
		v := meta.HostVars[host]
		n := Node{ID: host, Address: v.Host, User: v.User}
		if n.Address == "" {
			n.Address = host
		}
		if v.Connection == "local" {
			n.Transport, n.Address, n.User = TransportLocal, "", ""
		}
		if v.Port != nil {
			port, err := strconv.Atoi(fmt.Sprint(v.Port))
			if err != nil {
				errs.Addf("host %s: ansible_port %v: want a number", host, v.Port)
			}
			n.Port = port
		}
		switch b := fmt.Sprint(v.Become); b {
		case "true", "True", "yes", "1":
			n.Sudo = true
		}
		for _, g := range slices.Sorted(maps.Keys(memberOf[host])) {
			if slices.Contains(ansibleImplicitGroups, g) {
				continue
			}
			if n.Tags == nil {
				n.Tags = map[string]string{}
			}
			n.Tags[g] = "true"
		}
		n = n.WithDefaults()
		if err := n.Validate(); err != nil {
			errs.Addf("host %s: %v", host, err)
		}
		nodes = append(nodes, n)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return nodes, nil
}
