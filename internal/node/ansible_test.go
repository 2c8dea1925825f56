package node

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The shape of `ansible-inventory -i hosts.ini --list` for an inventory
// with a group of groups and group variables.
const inventory = `{
  "_meta": {"hostvars": {
    "web-1": {"ansible_host": "10.0.0.5", "ansible_user": "deploy", "ansible_port": 2222, "http_port": 80},
    "web-2": {"ansible_host": "10.0.0.6", "ansible_user": "deploy", "ansible_become": true},
    "db-1": {"ansible_user": "dba", "ansible_port": "22"},
    "control": {"ansible_connection": "local"}
  }},
  "all": {"children": ["ungrouped", "prod", "web"]},
  "prod": {"children": ["web", "db"]},
  "web": {"hosts": ["web-1", "web-2"]},
  "db": {"hosts": ["db-1"]},
  "ungrouped": {"hosts": ["control"]}
}`

func TestParseAnsibleInventory(t *testing.T) {
	nodes, err := ParseAnsibleInventory([]byte(inventory))
	require.NoError(t, err)
	byID := map[string]Node{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	require.Len(t, byID, 4)
	require.Equal(t, Node{ID: "web-1", Address: "10.0.0.5", Port: 2222, User: "deploy", Platform: PlatformLinux, Transport: TransportSSH,
		Tags: map[string]string{"web": "true", "prod": "true"}}, byID["web-1"])
	require.True(t, byID["web-2"].Sudo)
	require.Equal(t, "db-1", byID["db-1"].Address, "no ansible_host: the host name")
	require.Equal(t, 22, byID["db-1"].Port)
	require.Equal(t, map[string]string{"db": "true", "prod": "true"}, byID["db-1"].Tags)
	require.Equal(t, TransportLocal, byID["control"].Transport)
	require.Empty(t, byID["control"].Tags)

	_, err = ParseAnsibleInventory([]byte(`{"_meta": {"hostvars": {"a": {}, "b;c": {"ansible_user": "u"}}}}`))
	require.ErrorContains(t, err, "host a: user: required for the ssh transport")
	require.ErrorContains(t, err, `host b;c: node id "b;c"`)
	_, err = ParseAnsibleInventory([]byte(`[web]\nweb-1\n`))
	require.ErrorContains(t, err, "parse ansible inventory (the JSON of ansible-inventory --list)")
	_, err = ParseAnsibleInventory([]byte(`{"all": {"children": ["ungrouped"]}, "ungrouped": {}}`))
	require.EqualError(t, err, "ansible inventory lists no hosts")
}
