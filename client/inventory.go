package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stead-io/stead/internal/node"
)

// InventoryDocument is the built-in document whose runs are inventories.
const InventoryDocument = "Stead-GatherInventory"

// inventoryStep is the step of InventoryDocument that prints the inventory.
const inventoryStep = "gatherInventory"

// Inventory is what a node's latest Stead-GatherInventory run found on it.
// It is read from that run's output as the execution recorded it, so it
// is as bounded as a step's output head; Truncated says it was cut.
type Inventory struct {
	NodeID      string             `json:"nodeId"`
	Association string             `json:"association"`
	ExecutionID string             `json:"executionId"`
	At          time.Time          `json:"at"`
	OS          string             `json:"os,omitempty"`
	Kernel      string             `json:"kernel,omitempty"`
	Packages    []InventoryPackage `json:"packages,omitempty"`
	Services    []InventoryService `json:"services,omitempty"`
	Interfaces  []InventoryIface   `json:"interfaces,omitempty"`
	Users       []InventoryUser    `json:"users,omitempty"`
	Truncated   bool               `json:"truncated,omitempty"`
}

// InventoryPackage is an installed package and its version.
type InventoryPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// InventoryService is a service and its state (systemd's sub-state, or
// running/stopped for a System V script).
type InventoryService struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// InventoryIface is a network interface: its MAC address, MTU and
// addresses (CIDR).
type InventoryIface struct {
	Name      string   `json:"name"`
	MAC       string   `json:"mac"`
	MTU       int      `json:"mtu"`
	Addresses []string `json:"addresses,omitempty"`
}

// InventoryUser is a login account (root and ordinary users).
type InventoryUser struct {
	Name  string `json:"name"`
	UID   int    `json:"uid"`
	Shell string `json:"shell"`
}

// InventoryFilter narrows an inventory listing; empty fields select all.
type InventoryFilter struct {
	Node string
	// Package keeps nodes that have this package installed.
	Package string
	// VersionBelow, with Package, keeps nodes whose version of it is lower,
	// compared as dpkg compares versions.
	VersionBelow string
}

// Inventories returns each node's latest inventory, by node id, from the
// latest execution of every association that runs Stead-GatherInventory.
func (c *Client) Inventories(ctx context.Context, f InventoryFilter) ([]Inventory, error) {
	if f.Node != "" {
		if err := node.ValidID(f.Node); err != nil {
			return nil, invalid(err)
		}
	}
	if f.VersionBelow != "" && f.Package == "" {
		return nil, invalid(errors.New("a version bound needs a package name"))
	}
	assocs, err := c.Associations(ctx)
	if err != nil {
		return nil, err
	}
	latest := map[string]Inventory{}
	for _, a := range assocs {
		if name, _, _ := strings.Cut(a.Document, ":"); name != InventoryDocument {
			continue
		}
		execID, err := c.LatestExecution(ctx, a.Name)
		if err != nil {
			continue // no execution yet
		}
		_, outs, err := c.TargetOutputs(ctx, a.Name, execID)
		if err != nil {
			return nil, fmt.Errorf("read inventory run %s of %s: %w", execID, a.Name, err)
		}
		for _, o := range outs {
			for _, s := range o.Output {
				if s.Name != inventoryStep || s.ExitCode != 0 || (f.Node != "" && o.NodeID != f.Node) {
					continue
				}
				inv := ParseInventory(s.Stdout)
				inv.NodeID, inv.Association, inv.ExecutionID, inv.At, inv.Truncated = o.NodeID, a.Name, execID, s.EndedAt, s.StdoutTruncated
				if prev, seen := latest[o.NodeID]; !seen || inv.At.After(prev.At) {
					latest[o.NodeID] = inv
				}
			}
		}
	}
	var out []Inventory
	for _, inv := range latest {
		if f.Package != "" {
			v, found := inv.PackageVersion(f.Package)
			if !found || (f.VersionBelow != "" && CompareVersions(v, f.VersionBelow) >= 0) {
				continue
			}
		}
		out = append(out, inv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out, nil
}

// PackageVersion returns the installed version of package name.
func (inv Inventory) PackageVersion(name string) (string, bool) {
	for _, p := range inv.Packages {
		if p.Name == name {
			return p.Version, true
		}
	}
	return "", false
}

// ParseInventory reads the records Stead-GatherInventory prints, one a
// line; lines it does not know are skipped, so a newer document's output
// still reads.
func ParseInventory(stdout string) Inventory {
	var inv Inventory
	for _, line := range strings.Split(stdout, "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		f := strings.Fields(rest)
		switch {
		case kind == "os" && len(f) >= 2:
			inv.OS = strings.TrimSpace(strings.Join(f[2:], " "))
			if inv.OS == "" {
				inv.OS = f[0] + " " + f[1]
			}
		case kind == "kernel" && len(f) >= 1:
			inv.Kernel = strings.Join(f, " ")
		case kind == "package" && len(f) == 2:
			inv.Packages = append(inv.Packages, InventoryPackage{Name: f[0], Version: f[1]})
		case kind == "service" && len(f) == 2:
			inv.Services = append(inv.Services, InventoryService{Name: f[0], State: f[1]})
		case kind == "interface" && len(f) == 4:
			mtu, _ := strconv.Atoi(f[2])
			iface := InventoryIface{Name: f[0], MAC: f[1], MTU: mtu}
			if f[3] != "-" {
				iface.Addresses = strings.Split(f[3], ",")
			}
			inv.Interfaces = append(inv.Interfaces, iface)
		case kind == "user" && len(f) == 3:
			uid, _ := strconv.Atoi(f[1])
			inv.Users = append(inv.Users, InventoryUser{Name: f[0], UID: uid, Shell: f[2]})
		}
	}
	return inv
}

// CompareVersions compares two package versions as dpkg does: epoch, then
// upstream version, then revision, each by alternating non-digit runs
// (letters before other characters, ~ before everything, even the end)
// and numbers. It returns -1, 0 or 1.
func CompareVersions(a, b string) int {
	ea, ua, ra := splitVersion(a)
	eb, ub, rb := splitVersion(b)
	if ea != eb {
		return sign(ea - eb)
	}
	if c := compareFragment(ua, ub); c != 0 {
		return c
	}
	return compareFragment(ra, rb)
}

// splitVersion splits [epoch:]upstream[-revision].
func splitVersion(v string) (epoch int, upstream, revision string) {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		epoch, _ = strconv.Atoi(v[:i])
		v = v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// order ranks a character of a non-digit run; at is past the end gives 0.
func order(s string, at int) int {
	if at >= len(s) {
		return 0
	}
	c := s[at]
	switch {
	case isDigit(c):
		return 0
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

func compareFragment(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			if ac, bc := order(a, i), order(b, j); ac != bc {
				return sign(ac - bc)
			}
			i, j = i+1, j+1
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && j < len(b) && isDigit(a[i]) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i, j = i+1, j+1
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
