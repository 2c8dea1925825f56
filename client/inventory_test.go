package client

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompareVersionsAsDpkg(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.1", -1},
		{"1.10", "1.9", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0+sec1", -1},
		{"1:0.9", "2.0", 1},
		{"3.0.11-1~deb12u2", "3.0.13", -1},
		{"3.0.13-1", "3.0.13", 1},
		{"3.0.13-1~deb12u1", "3.0.13-1", -1},
		{"1.0a", "1.0+", -1},
		{"01.002", "1.2", 0},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			require.Equal(t, tt.want, CompareVersions(tt.a, tt.b))
			require.Equal(t, -tt.want, CompareVersions(tt.b, tt.a))
		})
	}
}

func TestParseInventory(t *testing.T) {
	inv := ParseInventory(`stead-inventory 1
os debian 12 Debian GNU/Linux 12 (bookworm)
kernel 6.1.0-30-amd64 x86_64
package openssl 3.0.15-1~deb12u1
package zlib1g 1:1.2.13.dfsg-1
service ssh running
interface eth0 02:00:00:00:00:01 1500 10.0.0.5/24,fe80::1/64
interface lo 00:00:00:00:00:00 65536 -
user root 0 /bin/bash
something new
`)
	require.Equal(t, "Debian GNU/Linux 12 (bookworm)", inv.OS)
	require.Equal(t, "6.1.0-30-amd64 x86_64", inv.Kernel)
	v, ok := inv.PackageVersion("zlib1g")
	require.True(t, ok)
	require.Equal(t, "1:1.2.13.dfsg-1", v)
	require.Equal(t, []InventoryService{{Name: "ssh", State: "running"}}, inv.Services)
	require.Equal(t, []string{"10.0.0.5/24", "fe80::1/64"}, inv.Interfaces[0].Addresses)
	require.Empty(t, inv.Interfaces[1].Addresses)
	require.Equal(t, 65536, inv.Interfaces[1].MTU)
	require.Equal(t, []InventoryUser{{Name: "root", UID: 0, Shell: "/bin/bash"}}, inv.Users)
}
