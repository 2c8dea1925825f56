// Package powershell is the runner (internal/runner) of Windows nodes: it
// speaks Windows PowerShell through any transport.Communicator whose
// commands run as cmd.exe or PowerShell command lines: WinRM's WinRS shell,
// or the default shell of a node's OpenSSH server. Its one command line
// holds no character either shell interprets, so both run it alike.
//
// It keeps the detached step protocol of package posix, on Windows terms:
// a run directory per run id under $env:ProgramData\Stead\runs, the step's
// script written to script.ps1 and run as the SSM agent runs it
// (powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy
// Unrestricted -File script.ps1), its stdout and stderr in files of the
// run directory and its exit code recorded by rename, so any later attempt
// with the same run id attaches to the running step or collects its result
// instead of starting it again.
//
// Processes started in a WinRS shell live in the shell's job object and
// die when it closes, so the step's wrapper (wrapper.ps1) is started
// through CIM, with Win32_Process.Create, outside that job: the step
// outlives the connection and the worker. The wrapper enforces the timeout
// on the node (taskkill, then taskkill /F after the grace period).
//
// # Wire
//
// Every operation is one command:
//
//	powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand <bootstrap>
//
// whose constant bootstrap reads two lines from stdin: the operation's
// program (run, stop, fetch, bootid, reboot, read, write: the .ps1 files of
// programs/),
// base64 UTF-8, and its parameters, base64 UTF-8 JSON. Programs are fixed
// text; every value (the script, its environment, the run id, limits)
// arrives as JSON data and is never parsed as code, and the command line
// stays far below cmd.exe's 8,191 characters whatever the script's size.
// The run program answers in the STEAD1 reply format of package runner.
//
// Boot ids are Win32_OperatingSystem.LastBootUpTime (UTC); the default
// reboot is Restart-Computer -Force.
//
// Files go through the communicator when it moves files (SFTP over
// OpenSSH, by drive path: SFTPPath), else through the write program.
// PowerShell's CLIXML error documents on stderr are decoded to text
// (DecodeCLIXML) in results, fetched output and error messages.
//
// No Windows host or PowerShell exists where Stead is built: the programs
// are tested as text (golden files) and their protocol against the WinRM
// test server of internal/testwinrm, which emulates them, and against a
// real sshd whose sessions run the same emulation as a stand-in
// powershell.exe. They have not run on a real Windows host.
package powershell
