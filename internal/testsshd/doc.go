// Package testsshd starts a real OpenSSH sshd for integration tests, so
// code that reaches nodes over SSH is tested against the server it meets in
// production rather than a fake.
//
// One server poses as many hosts: it listens on 0.0.0.0 and every 127.x.y.z
// address reaches it, each address acting as a separate host (for
// known_hosts and for the server's view of its local address). Public key
// authentication is only accepted on loopback addresses. Logins use a
// dedicated test user whose shell is /bin/sh.
//
// Tests must run as root (sshd needs it). If sshd is missing, Start fails
// the test: install the openssh-server package. Launch starts the same
// server for programs that are not tests, such as the benchmark, which
// needs the hosts the tests use without a testing.TB.
package testsshd
