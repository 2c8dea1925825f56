package node

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	good := Node{ID: "web-1", Address: "10.0.0.5", User: "deploy", Tags: map[string]string{"role": "web"}}.WithDefaults()
	require.NoError(t, good.Validate())
	require.Equal(t, 22, good.Port)
	require.Equal(t, []string{"role=web"}, good.TagList())

	cases := []struct {
		name string
		n    Node
		want []string
	}{
		{"everything wrong at once", Node{ID: "-bad", Port: 70000, Platform: "beos", Transport: "ssh", Address: "a b"},
			[]string{`node id "-bad"`, "port 70000", `platform "beos"`, `address "a b"`}},
		{"local needs no address", Node{ID: "me", Transport: TransportLocal, Platform: PlatformLinux}, nil},
		{"windows local", Node{ID: "me", Transport: TransportLocal, Platform: PlatformWindows}, []string{"only for linux"}},
		{"unknown transport", Node{ID: "me", Transport: "telnet", Platform: PlatformLinux}, []string{`transport "telnet"`}},
		{"quote in tag", Node{ID: "me", Address: "h", Port: 22, Transport: TransportSSH, Platform: PlatformLinux, Tags: map[string]string{"role": "it's"}}, []string{"tag role value"}},
		{"bad host key", Node{ID: "me", Address: "h", User: "u", Port: 22, Transport: TransportSSH, Platform: PlatformLinux, HostKey: "AAAA"}, []string{"host key"}},
		{"host key not base64", Node{ID: "me", Address: "h", User: "u", Port: 22, Transport: TransportSSH, Platform: PlatformLinux, HostKey: "ssh-ed25519 AAAA!!!!"}, []string{"host key \"ssh-ed25519 AAAA!!!!\": the key is not valid base64"}},
		{"host key of another type", Node{ID: "me", Address: "h", User: "u", Port: 22, Transport: TransportSSH, Platform: PlatformLinux, HostKey: "ssh-rsa " + testEd25519Key}, []string{"the key is not a ssh-rsa public key"}},
		{"host key", Node{ID: "me", Address: "h", User: "u", Port: 22, Transport: TransportSSH, Platform: PlatformLinux, HostKey: "ssh-ed25519 " + testEd25519Key + " root@h"}, nil},
		{"ssh needs a user", Node{ID: "me", Address: "h", Port: 22, Transport: TransportSSH, Platform: PlatformLinux}, []string{"user: required for the ssh transport"}},
		{"shell in address", Node{ID: "me", Address: ";id", User: "u", Port: 22, Transport: TransportSSH, Platform: PlatformLinux}, []string{`address ";id": want a host name`}},
		{"port in address", Node{ID: "me", Address: "127.0.1.10:2322", User: "u", Port: 22, Transport: TransportSSH, Platform: PlatformLinux}, []string{`address "127.0.1.10:2322": give the port apart (--address 127.0.1.10 --port 2322)`}},
		{"host name", Node{ID: "me", Address: "web-1.example.com.", User: "u", Port: 22, Transport: TransportSSH, Platform: PlatformLinux}, nil},
		{"ipv6", Node{ID: "me", Address: "fe80::1", User: "u", Port: 22, Transport: TransportSSH, Platform: PlatformLinux}, nil},
		{"winrm pins a certificate", Node{ID: "w", Address: "h", Port: 5986, User: "Administrator", Transport: TransportWinRM, Platform: PlatformWindows, HostKey: "sha256:" + strings.Repeat("aB", 32)}, nil},
		{"winrm with an ssh key", Node{ID: "w", Address: "h", Port: 5986, User: "Administrator", Transport: TransportWinRM, Platform: PlatformWindows, HostKey: "ssh-ed25519 AAAA"}, []string{"want sha256:<64 hex digits>"}},
		{"winrm on linux, no user", Node{ID: "w", Address: "h", Port: 5986, Transport: TransportWinRM, Platform: PlatformLinux}, []string{"only for windows nodes", "user: required"}},
		{"windows over winrm with sudo", Node{ID: "w", Address: "h", Port: 5986, User: "Administrator", Transport: TransportWinRM, Platform: PlatformWindows, Sudo: true}, []string{"sudo: windows nodes"}},
		{"windows over ssh with sudo", Node{ID: "w", Address: "h", Port: 22, User: "Administrator", Transport: TransportSSH, Platform: PlatformWindows, Sudo: true}, []string{"sudo: windows nodes"}},
		{"insecure http on ssh", Node{ID: "w", Address: "h", User: "u", Port: 22, Transport: TransportSSH, Platform: PlatformLinux, WinRMInsecureHTTP: true}, []string{"only for the winrm transport"}},
		{"http on ssh", Node{ID: "w", Address: "h", User: "u", Port: 22, Transport: TransportSSH, Platform: PlatformLinux, WinRMHTTP: true}, []string{"only for the winrm transport"}},
		{"winrm over http", Node{ID: "w", Address: "h", Port: 5985, User: "Administrator", Transport: TransportWinRM, Platform: PlatformWindows, WinRMHTTP: true}, nil},
		{"winrm over http, encrypted and not", Node{ID: "w", Address: "h", Port: 5985, User: "Administrator", Transport: TransportWinRM, Platform: PlatformWindows, WinRMHTTP: true, WinRMInsecureHTTP: true}, []string{"choose one"}},
		{"winrm over http pins a certificate", Node{ID: "w", Address: "h", Port: 5985, User: "Administrator", Transport: TransportWinRM, Platform: PlatformWindows, WinRMHTTP: true, HostKey: "sha256:" + strings.Repeat("ab", 32)}, []string{"presents no certificate"}},
		{"user with shell characters", Node{ID: "me", Address: "h", Port: 22, Transport: TransportSSH, Platform: PlatformLinux, User: "root;id"}, []string{"user"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.n.Validate()
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			for _, w := range c.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

// testEd25519Key is the base64 of an ed25519 public key's wire form.
const testEd25519Key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

func TestParseImport(t *testing.T) {
	nodes, err := ParseImport([]byte("- id: a\n  address: 10.0.0.1\n  user: deploy\n  tags: {role: web}\n- id: b\n  transport: local\n"))
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	require.Equal(t, 22, nodes[0].Port)
	require.Equal(t, TransportLocal, nodes[1].Transport)

	nodes, err = ParseImport([]byte("- {id: w, address: h, user: Administrator, platform: windows, transport: winrm}\n- {id: v, address: h, user: Administrator, platform: windows, transport: winrm, winrmInsecureHttp: true}\n- {id: x, address: h, user: Administrator, platform: windows, transport: winrm, winrmHttp: true}\n"))
	require.NoError(t, err)
	require.Equal(t, 5986, nodes[0].Port)
	require.Equal(t, 5985, nodes[1].Port)
	require.Equal(t, 5985, nodes[2].Port)
	require.True(t, nodes[2].WinRMHTTP)

	_, err = ParseImport([]byte("- id: a\n  adress: x\n"))
	require.ErrorContains(t, err, "adress")
	_, err = ParseImport([]byte("- id: a\n  address: x\n  user: u\n- id: a\n  address: y\n  user: u\n"))
	require.ErrorContains(t, err, "id a appears twice")
	// Every problem of every entry, on one line.
	_, err = ParseImport([]byte("- id: a\n  port: 99999\n  address: x\n  user: u\n- id: '-b'\n  platform: beos\n  address: y\n  user: u\n"))
	require.EqualError(t, err, `node 1 (a): port 99999: want 1-65535; node 2 (-b): node id "-b": want 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit; platform "beos": want linux or windows`)
	_, err = ParseImport([]byte("[]"))
	require.ErrorContains(t, err, "lists no nodes")
	_, err = ParseImport([]byte(strings.Repeat("#", MaxImportBytes+1)))
	require.ErrorContains(t, err, "the limit is")
}

func FuzzParseImport(f *testing.F) {
	f.Add([]byte("- id: a\n  address: 10.0.0.1\n  tags: {role: web}\n"))
	f.Add([]byte("- id: b\n  transport: local\n  region: eu\n  hostKey: ssh-ed25519 AAAA\n"))
	f.Add([]byte("- {id: c, address: \"x'y\", port: 0}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		nodes, err := ParseImport(data)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		// Whatever is accepted is valid and safe to put in a query.
		for _, n := range nodes {
			require.NoError(t, n.Validate())
			for _, tag := range n.TagList() {
				require.NotContains(t, tag, "'")
			}
		}
	})
}

// The example the README points at is a valid import file.
func TestExampleImportFile(t *testing.T) {
	data, err := os.ReadFile("../../examples/nodes.yaml")
	require.NoError(t, err)
	nodes, err := ParseImport(data)
	require.NoError(t, err)
	require.Len(t, nodes, 3)
	require.Equal(t, map[string]string{"role": "db", "env": "prod"}, nodes[1].Tags)
	require.True(t, nodes[1].Sudo)
}
