// Package winrm is the WinRM protocol of package transport: it reaches
// Windows nodes over WS-Management, through github.com/masterzen/winrm
// (the library Packer and Terraform use), so Stead writes no SOAP itself.
//
// A Communicator is one WinRS shell on the node, opened when the node is
// dialled and deleted on Close; each Run is one command in that shell,
// its stdin sent in Send requests and its output read back with Receive.
// The shell's process runs cmd.exe command lines: which program a command
// runs (powershell.exe) is the runner's business (internal/runner/powershell).
//
// Trust is never skipped. HTTPS (port 5986) is the default: the node's
// certificate is either pinned on the node by its SHA-256 fingerprint (the
// node's host key field, "sha256:<hex>", the WinRM analogue of a pinned SSH
// host key), or verified against the worker's CA file (or the system's
// roots when it has none) and the node's address.
//
// Plain HTTP (port 5985, Windows' default listener) for a target that sets
// HTTP: every SOAP message is sealed with the NTLM session security of the
// connection's login (MS-WSMV 2.2.9.1; see encrypt.go), since that
// listener takes no unencrypted message and nothing else protects the
// traffic. An answer that is not sealed, or whose signature does not
// verify, is refused; a node that grants no sealing is an InvalidTarget
// before any message is sent. Only NTLM credentials can seal. Over HTTPS
// nothing is sealed, as Windows does: TLS protects the traffic and the
// certificate identifies the node, which NTLM does not. InsecureHTTP is
// plain HTTP without message encryption, for a node that allows
// unencrypted traffic: the operator's explicit choice, for labs.
//
// Credentials are named, like SSH credentials: the worker holds a file per
// name with the password of the node's login user, and a node names the
// credential, never the password. Basic authentication is refused over
// plain HTTP, encrypted or not, where it would send the password in clear;
// NTLM is the default. A certificate credential ("cert:", a PEM file with the client
// certificate and its key) authenticates in the TLS handshake, as WinRM's
// certificate authentication does, and so only over HTTPS.
//
// A kerberos credential ("kerberos:", a file of KEY=value lines naming the
// principal user@REALM, its keytab or password file and the krb5.conf of
// its realm; see ParseKerberosCredential) logs in as a domain account, the
// usual way into Windows hosts of a domain. The worker gets a ticket for
// the node's service principal, HTTP/<node address>, from the realm's KDC
// (github.com/jcmturner/gokrb5), and every request carries it in an SPNEGO
// token (HTTP Negotiate); the principal is who logs in, and the target's
// user is not sent. The address is used as given, never resolved to
// a canonical or reverse name, so a node must be registered by the DNS name
// its SPN is registered under: an IP address has no SPN in a domain. A KDC
// that refuses the principal is AuthFailed, one that does not answer
// Unreachable; tickets are cached, so a KDC down does not stop nodes
// already reached until their tickets expire. Over plain HTTP (only with
// InsecureHTTP) the messages are not sealed with the Kerberos session key,
// which a Windows host accepts only with AllowUnencrypted set.
//
// Failures to reach a node are *transport.Error values: an unknown or
// changed certificate is HostKeyUnknown or HostKeyMismatch (with the
// presented fingerprint, so an operator can pin it), a refused credential
// AuthFailed, a node that does not answer Unreachable.
package winrm
