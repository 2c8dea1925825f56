// Package testwinrm is a fake Windows host for tests: a WinRM server that
// speaks the real WS-Management SOAP protocol over HTTPS (Create shell,
// Command, Send, Receive with streams and exit code, Signal terminate,
// Delete) with Basic or NTLMv2 authentication and a generated certificate, so the
// WinRM communicator and the PowerShell runner are exercised over real
// HTTP through the real client library.
//
// JoinRealm makes it a member of a real MIT Kerberos realm (a KDC of
// internal/testkdc): it then accepts Negotiate (SPNEGO) tokens whose
// Kerberos service ticket for HTTP/localhost decrypts with its keytab,
// verified by gokrb5's service side, and maps the ticket's client principal
// to its user of the same name, as a domain member maps a domain account.
// The KDC is real; the host that accepts its tickets is this fake.
//
// Nothing real can run here: there is no Windows and no PowerShell on the
// machines Stead is built on. So the server does not run the commands it
// receives; it emulates them. It knows the exact powershell.exe invocation
// the PowerShell runner issues (the bootstrap of internal/runner/powershell
// and its programs, recognised by their header lines) and carries out each
// program's protocol itself, on a run directory under a temporary
// ProgramData, starting the step's wrapper as a detached sh process (the
// Win32_Process.Create it stands for) that outlives the WinRS shell and
// the worker. The step's script is PowerShell, which cannot run either: a
// stand-in interpreter translates a small subset of it to sh
// (Write-Output, Write-Host, echo, Write-Error, Start-Sleep, exit, and
// $env:NAME references); anything else fails as an unknown command. A
// reboot kills every step the host runs, changes the boot id and refuses
// connections for a moment. Besides these, the shell runs `echo TEXT` and
// `more` (stdin to stdout), for tests of the communicator alone.
//
// StartOpenSSH puts the same emulated host behind a real OpenSSH sshd, as
// a Windows Server node reached over OpenSSH: its sessions run the test
// binary as a stand-in powershell.exe and sftp server (see openssh.go).
// The host keeps its state (boot id, launches, run directories) in files,
// so the test and the stand-in processes see the same host.
//
// Like Windows' default configuration it also listens on plain HTTP
// (HTTPPort), where it takes SOAP only sealed with NTLM message encryption
// (MS-WSMV 2.2.9.1): after the NTLMv2 handshake it derives the session
// keys after MS-NLMP (session base key, key exchange, signing and sealing
// keys), written here apart from the client's library and checked against
// MS-NLMP's example values, unseals and verifies each request and seals
// its answer. Unencrypted SOAP there is refused with a fault, as
// AllowUnencrypted=false does, unless AllowUnencrypted(true) is called; a
// test can also alter the signatures of its answers (TamperResponses) or
// close its idle connections (DropIdleConnections).
//
// Passing against this server shows that Stead speaks WinRM and follows
// its own protocol; it does not show that the PowerShell programs behave
// on Windows as their emulation does.
package testwinrm
