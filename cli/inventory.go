package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/client"
)

func inventoryCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "inventory",
		Usage: "what Stead-GatherInventory found on each node",
		Subcommands: []*ucli.Command{
			{
				Name:  "list",
				Usage: "each node's latest inventory: OS, kernel, counts; --package filters by an installed package",
				Flags: append([]ucli.Flag{
					&ucli.StringFlag{Name: "package", Usage: "only nodes with this package installed (its version is shown)"},
					&ucli.StringFlag{Name: "version-below", Usage: "with --package: only nodes whose version of it is lower, compared as dpkg does"},
				}, append(connectFlags(), outputFlag)...),
				Action: inventoryList,
			},
			{
				Name:   "describe",
				Usage:  "one node's latest inventory in full",
				Flags:  append([]ucli.Flag{&ucli.StringFlag{Name: "node", Usage: "the node", Required: true}}, append(connectFlags(), outputFlag)...),
				Action: inventoryDescribe,
			},
		},
	}
}

// Inventory is one element of `inventory list --output json` and the
// value of `inventory describe --output json`.
type Inventory = client.Inventory

func inventoryList(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	pkg := c.String("package")
	invs, err := cl.Inventories(c.Context, client.InventoryFilter{Package: pkg, VersionBelow: c.String("version-below")})
	if err != nil {
		return err
	}
	if p.json {
		return p.value(invs)
	}
	header := []string{"NODE", "OS", "KERNEL", "PACKAGES", "SERVICES", "AT"}
	if pkg != "" {
		header = append(header[:3], strings.ToUpper(pkg), "AT")
	}
	rows := make([][]string, 0, len(invs))
	for _, inv := range invs {
		row := []string{inv.NodeID, inv.OS, inv.Kernel}
		if pkg != "" {
			v, _ := inv.PackageVersion(pkg)
			row = append(row, v)
		} else {
			row = append(row, strconv.Itoa(len(inv.Packages)), strconv.Itoa(len(inv.Services)))
		}
		rows = append(rows, append(row, when(inv.At)))
	}
	return p.table(header, rows)
}

func inventoryDescribe(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	id := c.String("node")
	invs, err := cl.Inventories(c.Context, client.InventoryFilter{Node: id})
	if err != nil {
		return err
	}
	if len(invs) == 0 {
		return errors.New("node " + id + " has no inventory: run an association with Stead-GatherInventory on it")
	}
	inv := invs[0]
	if p.json {
		return p.value(inv)
	}
	kv := [][2]string{{"node", inv.NodeID}, {"os", inv.OS}, {"kernel", inv.Kernel},
		{"collected", fmt.Sprintf("%s by %s, execution %s", when(inv.At), inv.Association, inv.ExecutionID)}}
	if inv.Truncated {
		kv = append(kv, [2]string{"truncated", "yes: the run printed more than its output head holds"})
	}
	for _, i := range inv.Interfaces {
		kv = append(kv, [2]string{"interface " + i.Name, fmt.Sprintf("%s mtu %d %s", i.MAC, i.MTU, strings.Join(i.Addresses, " "))})
	}
	for _, u := range inv.Users {
		kv = append(kv, [2]string{"user " + u.Name, fmt.Sprintf("uid %d %s", u.UID, u.Shell)})
	}
	for _, s := range inv.Services {
		kv = append(kv, [2]string{"service " + s.Name, s.State})
	}
	for _, pk := range inv.Packages {
		kv = append(kv, [2]string{"package " + pk.Name, pk.Version})
	}
	return p.fields(kv)
}
