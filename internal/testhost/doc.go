// Package testhost builds real Linux hosts for integration tests on the
// machine that runs them, so that documents which install packages, patch
// hosts or change the network do that inside a test host and never on the
// machine itself.
//
// A host is a network namespace joined to the machine by a veth pair, with
// a Debian root filesystem of its own (built once with debootstrap from
// Debian's packages and cached as a tarball under CacheDir) and a real
// OpenSSH sshd running chrooted into that root in its own mount, UTS and
// PID namespaces. The test reaches the host's sshd on the namespace's
// address as root, with a key the host trusts and a host key the test
// pins.
//
// Repo is a local apt repository of packages built with dpkg-deb, served
// over HTTP on the machine's end of the hosts' links, so install, update
// and patch cases run against real apt without reaching the Internet.
//
// Everything needs root. Require skips the test with a message when it
// cannot run here, and fails it when CI=true, where it must.
package testhost
