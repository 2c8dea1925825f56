package testwinrm

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf16"

	"github.com/stead-io/stead/internal/runner/powershell"
)

// Host is the emulated Windows node: its ProgramData, its profile, its
// boot id and the steps it runs. Everything it knows lives in files under
// its root, so the fake WinRM server and stand-in programs started by a
// real sshd (StartOpenSSH) emulate the same kind of host, and a test reads
// what either did.
type Host struct {
	root string
	// goDown makes the host refuse connections for a while, as a
	// rebooting host does; nil where the host cannot (behind a real sshd).
	goDown func(time.Duration)
	// inProcess is set for a host that lives as long as the test (the
	// WinRM server's); a stand-in program's host outlives no command.
	inProcess bool
}

// NewHost emulates a node whose file system lives under root.
func NewHost(root string) *Host {
	return &Host{root: root, inProcess: true}
}

// Launches counts the steps the host has started (Win32_Process.Create
// calls of the run program): a step run twice counts twice.
func (h *Host) Launches() int {
	return int(size(filepath.Join(h.root, "launches")))
}

// countLaunch records one more launch: one byte appended, atomically.
func (h *Host) countLaunch() {
	f, err := os.OpenFile(filepath.Join(h.root, "launches"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	_, _ = f.Write([]byte{'.'})
	_ = f.Close()
}

// RunsDir is where the host keeps run directories: the emulation of
// $env:ProgramData\Stead\runs.
func (h *Host) RunsDir() string { return filepath.Join(h.root, "ProgramData", "Stead", "runs") }

// home is the login user's profile directory.
func (h *Host) home() string { return filepath.Join(h.root, "C", "Users", "stead") }

// boots is how many times the host has booted.
func (h *Host) boots() int {
	b, err := os.ReadFile(filepath.Join(h.root, "boots"))
	if n, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
		return n
	}
	return 1
}

// BootID is the emulated Win32_OperatingSystem.LastBootUpTime.
func (h *Host) BootID() string {
	return fmt.Sprintf("2026010100%04d", h.boots())
}

// Close kills every step the host runs, as powering it off would: each
// run's wrapper and the process group of its script.
func (h *Host) Close() {
	for _, name := range []string{"pid", "group"} {
		files, _ := filepath.Glob(filepath.Join(h.RunsDir(), "*", name))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			g, err := strconv.Atoi(strings.TrimSpace(string(b)))
			// A pid recorded long ago may be another process's now: only a
			// process that still runs this run's wrapper or script is ours.
			if err == nil && g > 1 && runsFrom(g, filepath.Dir(f)) {
				_ = syscall.Kill(-g, syscall.SIGKILL)
			}
		}
	}
}

// runsFrom reports whether process pid runs a program of run directory d.
func runsFrom(pid int, d string) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(cmdline), d+"/")
}

// rebootDelay is how long after the reboot command the host goes down,
// and downtime how long it then refuses connections.
const (
	rebootDelay = 200 * time.Millisecond
	downtime    = 2 * time.Second
)

// startReboot emulates Restart-Computer, which returns at once and
// reboots a moment later: in a goroutine for a host that lives in the
// test, in a detached stand-in process for one that does not.
func (h *Host) startReboot() {
	if h.inProcess {
		go h.reboot()
		return
	}
	self, err := os.Executable()
	if err != nil {
		return
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envReboot+"="+h.root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Start() == nil {
		_ = cmd.Process.Release()
	}
}

// reboot is the reboot itself: every step dies, the boot id changes and
// the host is unreachable for a while (where it can be).
func (h *Host) reboot() {
	time.Sleep(rebootDelay)
	h.Close()
	next := filepath.Join(h.root, "boots.tmp")
	if os.WriteFile(next, []byte(strconv.Itoa(h.boots()+1)+"\n"), 0o644) == nil {
		_ = os.Rename(next, filepath.Join(h.root, "boots"))
	}
	if h.goDown != nil {
		h.goDown(downtime)
	}
}

// Exec runs one command line of a WinRS shell and returns its exit code.
// The context ends when the shell's job would: the command is terminated.
func (h *Host) Exec(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch {
	case strings.HasPrefix(line, "echo "):
		fmt.Fprintf(stdout, "%s\r\n", strings.TrimPrefix(line, "echo "))
		return 0
	case line == "more":
		_, _ = io.Copy(stdout, stdin)
		return 0
	}
	prefix := "powershell.exe " + powershell.PowerShellArgs + " -EncodedCommand "
	encoded, ok := strings.CutPrefix(line, prefix)
	if !ok {
		fmt.Fprintf(stderr, "'%s' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n", strings.Fields(line + " x")[0])
		return 1
	}
	boot, err := decodeCommand(encoded)
	if err != nil || !strings.Contains(boot, "[Convert]::FromBase64String($l[0])") {
		fmt.Fprintf(stderr, "the emulated host knows no PowerShell command %q\n", boot)
		return 1
	}
	in, err := io.ReadAll(stdin)
	if err != nil {
		return 1
	}
	lines := strings.Split(strings.TrimRight(string(in), "\r\n"), "\n")
	if len(lines) != 2 {
		fmt.Fprintf(stderr, "the bootstrap wants two lines on stdin, got %d\n", len(lines))
		return 1
	}
	program, err1 := base64.StdEncoding.DecodeString(strings.TrimSpace(lines[0]))
	params, err2 := base64.StdEncoding.DecodeString(strings.TrimSpace(lines[1]))
	if err1 != nil || err2 != nil {
		fmt.Fprintln(stderr, "Exception calling \"FromBase64String\": invalid base64")
		return 1
	}
	var p progParams
	if err := json.Unmarshal(params, &p); err != nil {
		fmt.Fprintf(stderr, "ConvertFrom-Json: %v\n", err)
		return 1
	}
	header, _, _ := strings.Cut(string(program), "\n")
	op := &operation{h: h, ctx: ctx, p: p, stdout: stdout, stderr: stderr}
	if p.RunID != "" {
		op.d = filepath.Join(h.RunsDir(), p.RunID)
	}
	switch {
	case strings.HasPrefix(header, "# Stead: run."):
		return op.run()
	case strings.HasPrefix(header, "# Stead: stop."):
		return op.stop()
	case strings.HasPrefix(header, "# Stead: fetch."):
		return op.fetch()
	case strings.HasPrefix(header, "# Stead: boot id."):
		return op.bootID()
	case strings.HasPrefix(header, "# Stead: reboot."):
		return op.rebootProgram()
	case strings.HasPrefix(header, "# Stead: read file."):
		return op.readFile()
	case strings.HasPrefix(header, "# Stead: write file."):
		return op.writeFile()
	}
	fmt.Fprintf(stderr, "the emulated host knows no program %q\n", header)
	return 1
}

// decodeCommand reverses -EncodedCommand: base64 of UTF-16LE.
func decodeCommand(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%2 != 0 {
		return "", fmt.Errorf("decode -EncodedCommand: %v", err)
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(units)), nil
}

// progParams is the union of the programs' JSON parameters.
type progParams struct {
	RunID            string `json:"runId"`
	Script           string `json:"script"`
	Env              []struct{ Name, Value string }
	WorkingDirectory string `json:"workingDirectory"`
	TimeoutSeconds   int64  `json:"timeoutSeconds"`
	GraceSeconds     int64  `json:"graceSeconds"`
	OutLimit         int64  `json:"outLimit"`
	ErrLimit         int64  `json:"errLimit"`
	Wrapper          string `json:"wrapper"`
	Stream           string `json:"stream"`
	Limit            int64  `json:"limit"`
	Command          string `json:"command"`
	BootIDCommand    string `json:"bootIdCommand"`
	Path             string `json:"path"`
	Content          []byte `json:"content"`
}

// operation is one program being emulated.
type operation struct {
	h              *Host
	ctx            context.Context
	p              progParams
	d              string
	stdout, stderr io.Writer
}

func (o *operation) exists(name string) bool {
	_, err := os.Stat(filepath.Join(o.d, name))
	return err == nil
}

func (o *operation) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(o.d, name))
	return strings.TrimSpace(string(b))
}

func size(path string) int64 {
	if st, err := os.Stat(path); err == nil {
		return st.Size()
	}
	return 0
}

func copyHead(path string, limit int64, w io.Writer) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(w, io.LimitReader(f, limit))
}

// winDir is the run directory as the node names it.
func (o *operation) winDir() string { return `C:\ProgramData\Stead\runs\` + o.p.RunID }

// report emulates the run program's Report.
func (o *operation) report(state string) int {
	code := -1
	if o.exists("exitcode") {
		code, _ = strconv.Atoi(o.read("exitcode"))
	}
	timedout := 0
	if o.exists("timedout") {
		timedout = 1
	}
	fmt.Fprintf(o.stdout, "STEAD1 %s %d %d %d %d\n%s\n", state, code, timedout, size(filepath.Join(o.d, "stdout")), size(filepath.Join(o.d, "stderr")), o.winDir())
	copyHead(filepath.Join(o.d, "stdout"), o.p.OutLimit, o.stdout)
	copyHead(filepath.Join(o.d, "stderr"), o.p.ErrLimit, o.stderr)
	return 0
}

// isWrapper emulates Test-Wrapper: the process exists and its command line
// names this run's wrapper.
func (o *operation) isWrapper(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil || syscall.Kill(n, 0) != nil {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
	if err != nil {
		return false
	}
	if st, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil {
		if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "Z" {
			return false
		}
	}
	// A process caught in its exec shows an empty command line for a
	// moment: it is the wrapper being started.
	return len(cmdline) == 0 || strings.Contains(string(cmdline), filepath.Join(o.d, "wrapper.ps1"))
}

// sleep waits d, or reports false when the command was terminated.
func (o *operation) sleep(d time.Duration) bool {
	select {
	case <-o.ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (o *operation) await(pid, state string) int {
	for !o.exists("exitcode") {
		if !o.isWrapper(pid) {
			if o.exists("exitcode") {
				break
			}
			return o.report("lost")
		}
		if !o.sleep(200 * time.Millisecond) {
			return 1
		}
	}
	return o.report(state)
}

func (o *operation) claimed() int {
	for n := 0; !o.exists("pid"); n++ {
		if o.exists("exitcode") {
			return o.report("collected")
		}
		if n >= 50 || !o.sleep(200*time.Millisecond) {
			return o.report("lost")
		}
	}
	return o.await(o.read("pid"), "attached")
}

func (o *operation) fail(msg string) int {
	fmt.Fprintf(o.stdout, "STEAD1 error\n%s\n", msg)
	return 0
}

// run emulates run.ps1.
func (o *operation) run() int {
	switch {
	case o.exists("exitcode"):
		return o.report("collected")
	case o.exists("pid"):
		return o.await(o.read("pid"), "attached")
	case o.exists("started"):
		return o.claimed()
	}
	if err := os.MkdirAll(o.d, 0o755); err != nil {
		return o.fail("cannot create run directory " + o.winDir())
	}
	var env strings.Builder
	for _, e := range o.p.Env {
		fmt.Fprintf(&env, "export %s=%s\n", e.Name, shellQuote(e.Value))
	}
	envJSON, _ := json.Marshal(o.p.Env)
	files := map[string]string{
		"script.ps1": o.p.Script, "script.ps1.sh": Translate(o.p.Script),
		"env.json": string(envJSON), "env.sh": env.String(),
		"wrapper.ps1": o.p.Wrapper, "wrapper.ps1.sh": wrapperEmulation,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(o.d, name), []byte(content), 0o600); err != nil {
			return o.fail("cannot write the step files in " + o.winDir())
		}
	}
	if err := os.Mkdir(filepath.Join(o.d, "started"), 0o755); err != nil {
		return o.claimed()
	}
	// Win32_Process.Create: a process of its own, outside the shell's job.
	cmd := exec.Command("sh", filepath.Join(o.d, "wrapper.ps1.sh"), o.d, strconv.FormatInt(o.p.TimeoutSeconds, 10), strconv.FormatInt(o.p.GraceSeconds, 10), o.p.WorkingDirectory)
	cmd.Env = append(os.Environ(), "HOME="+o.h.home(), "USERPROFILE="+o.h.home())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	_ = os.MkdirAll(o.h.home(), 0o755)
	if err := cmd.Start(); err != nil {
		return o.fail("Win32_Process.Create returned 8")
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }()
	_ = os.WriteFile(filepath.Join(o.d, "pid.tmp"), []byte(strconv.Itoa(pid)+"\n"), 0o600)
	_ = os.Rename(filepath.Join(o.d, "pid.tmp"), filepath.Join(o.d, "pid"))
	// Counted once its pid is recorded: a test that leaves a step once it
	// is launched leaves one a reboot can find and kill.
	o.h.countLaunch()
	return o.await(strconv.Itoa(pid), "launched")
}

// wrapperEmulation stands for wrapper.ps1: it runs the translated script in
// a process group of its own with the run's environment, enforces the
// timeout (TERM for taskkill, KILL for taskkill /F) and records the exit
// code by rename. Usage: sh wrapper.ps1.sh RUNDIR TIMEOUT GRACE WORKDIR.
const wrapperEmulation = `d=$1 limit=$2 grace=$3 wd=$4
cd "$d" || exit 1
. "$d/env.sh"
rm -f "$d/env.sh" "$d/env.json"
if ! cd "${wd:-$HOME}" 2>/dev/null; then
	echo "Stead could not start the script: cannot find path '$wd'" >>"$d/stderr"
	echo 1 >"$d/exitcode.tmp" && mv -f "$d/exitcode.tmp" "$d/exitcode"
	exit 0
fi
STEAD_TEST_EXIT="$d/exit32" setsid sh "$d/script.ps1.sh" </dev/null >"$d/stdout" 2>"$d/stderr" &
c=$!
echo "$c" >"$d/group.tmp" && mv -f "$d/group.tmp" "$d/group"
watchdog=
if [ "$limit" -gt 0 ]; then
	(
		end=$(($(date +%s) + limit))
		while kill -0 "$c" 2>/dev/null; do
			if [ "$(date +%s)" -ge "$end" ]; then
				: >"$d/timedout"
				kill -TERM -"$c" 2>/dev/null
				end=$(($(date +%s) + grace))
				while kill -0 -"$c" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
				kill -KILL -"$c" 2>/dev/null
				exit 0
			fi
			sleep 1
		done
	) </dev/null >/dev/null 2>&1 &
	watchdog=$!
fi
wait "$c"
code=$?
# Windows exit codes are 32 bits; sh keeps 8.
[ -f "$d/exit32" ] && code=$(cat "$d/exit32")
if [ -n "$watchdog" ]; then
	if [ -f "$d/timedout" ]; then wait "$watchdog"; else kill "$watchdog" 2>/dev/null; fi
fi
echo "$code" >"$d/exitcode.tmp" && mv -f "$d/exitcode.tmp" "$d/exitcode"
`

// stop emulates stop.ps1.
func (o *operation) stop() int {
	if !o.exists("started") {
		return 0
	}
	for n := 0; !o.exists("group"); n++ {
		if o.exists("exitcode") || n >= 50 {
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	g, err := strconv.Atoi(o.read("group"))
	if err != nil || o.exists("exitcode") {
		return 0
	}
	_ = syscall.Kill(-g, syscall.SIGTERM)
	for n := int64(0); n < o.p.GraceSeconds*5 && syscall.Kill(-g, 0) == nil; n++ {
		time.Sleep(200 * time.Millisecond)
	}
	_ = syscall.Kill(-g, syscall.SIGKILL)
	return 0
}

// fetch emulates fetch.ps1.
func (o *operation) fetch() int {
	f := filepath.Join(o.d, o.p.Stream)
	if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
		return 3
	}
	fmt.Fprintf(o.stdout, "%d\n", size(f))
	copyHead(f, o.p.Limit, o.stdout)
	return 0
}

// custom runs a node's own PowerShell command through the stand-in
// interpreter.
func (o *operation) custom(command string) (string, int) {
	out, err := exec.CommandContext(o.ctx, "sh", "-c", Translate(command)).Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return string(out), code
}

// bootID emulates bootid.ps1.
func (o *operation) bootID() int {
	if o.p.Command != "" {
		out, code := o.custom(o.p.Command)
		fmt.Fprint(o.stdout, out)
		return code
	}
	fmt.Fprintln(o.stdout, o.h.BootID())
	return 0
}

// rebootProgram emulates reboot.ps1.
func (o *operation) rebootProgram() int {
	if err := os.MkdirAll(o.d, 0o755); err != nil {
		return 90
	}
	cur := o.h.BootID()
	if o.p.BootIDCommand != "" {
		out, _ := o.custom(o.p.BootIDCommand)
		cur = strings.Join(strings.Fields(out), "")
	}
	if cur == "" {
		fmt.Fprintln(o.stderr, "the boot id command printed nothing")
		return 91
	}
	if o.exists("rebooted-from") {
		if old := o.read("rebooted-from"); old != cur {
			fmt.Fprintf(o.stdout, "STEAD1 rebooted %s\n", old)
			return 0
		}
	} else {
		_ = os.WriteFile(filepath.Join(o.d, "rebooted-from"), []byte(cur+"\n"), 0o600)
	}
	fmt.Fprintf(o.stdout, "STEAD1 rebooting %s\n", cur)
	if o.p.Command != "" {
		_, code := o.custom(o.p.Command)
		return code
	}
	o.h.startReboot()
	return 0
}

// drivePath is a rooted Windows path: C:\...
var drivePath = regexp.MustCompile(`^([A-Za-z]):\\(.*)$`)

// hostPath maps a Windows path on the node (relative ones to the profile,
// C:\Users\stead) to the file that emulates it, and returns both.
func (h *Host) hostPath(p string) (local, windows string) {
	if m := drivePath.FindStringSubmatch(p); m != nil {
		return filepath.Join(h.root, strings.ToUpper(m[1]), filepath.FromSlash(strings.ReplaceAll(m[2], `\`, "/"))), p
	}
	return filepath.Join(h.home(), filepath.FromSlash(strings.ReplaceAll(p, `\`, "/"))), `C:\Users\stead\` + strings.ReplaceAll(p, "/", `\`)
}

// readFile emulates read.ps1.
func (o *operation) readFile() int {
	local, _ := o.h.hostPath(o.p.Path)
	st, err := os.Stat(local)
	switch {
	case err != nil:
		return 3
	case !st.Mode().IsRegular():
		return 5
	}
	f, err := os.Open(local)
	if err != nil {
		return 4
	}
	defer f.Close()
	_, _ = io.Copy(o.stdout, io.LimitReader(f, o.p.Limit))
	return 0
}

// writeFile emulates write.ps1.
func (o *operation) writeFile() int {
	local, windows := o.h.hostPath(o.p.Path)
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		fmt.Fprintln(o.stderr, err)
		return 1
	}
	tmp := filepath.Join(filepath.Dir(local), "."+filepath.Base(local)+".stead-tmp")
	if err := os.WriteFile(tmp, o.p.Content, 0o644); err != nil {
		fmt.Fprintln(o.stderr, err)
		return 1
	}
	if err := os.Rename(tmp, local); err != nil {
		fmt.Fprintln(o.stderr, err)
		return 1
	}
	fmt.Fprint(o.stdout, windows)
	return 0
}

// shellQuote quotes s as one sh word.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

var (
	envRef    = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}|\$env:([A-Za-z_][A-Za-z0-9_]*)`)
	cmdletArg = regexp.MustCompile(`^(?i)(Write-Output|Write-Host|echo|Write-Error|exit|Start-Sleep)\b\s*(.*)$`)
	seconds   = regexp.MustCompile(`^(?i)(-Seconds\s+)?(\d+)$`)
)

// Translate is the stand-in interpreter: it turns the subset of
// PowerShell the tests use into sh, line by line. Lines it does not know
// fail the way an unknown command does in PowerShell: an error on stderr,
// and the script goes on.
func Translate(script string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(script))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		args := envRef.ReplaceAllStringFunc(line, func(m string) string {
			sub := envRef.FindStringSubmatch(m)
			return "${" + sub[1] + sub[2] + "}"
		})
		m := cmdletArg.FindStringSubmatch(args)
		if m == nil {
			fmt.Fprintf(&b, "printf '%%s\\n' %s >&2\n", shellQuote("The term '"+strings.Fields(line)[0]+"' is not recognized as the name of a cmdlet (stand-in interpreter of the test host)."))
			continue
		}
		switch verb, rest := strings.ToLower(m[1]), m[2]; verb {
		case "write-error":
			fmt.Fprintf(&b, "printf '%%s\\n' %s >&2\n", rest)
		case "exit":
			// sh keeps 8 bits of an exit code; the wrapper reads all 32 from the file.
			fmt.Fprintf(&b, "[ -n \"$STEAD_TEST_EXIT\" ] && echo %s >\"$STEAD_TEST_EXIT\"\nexit %s\n", rest, rest)
		case "start-sleep":
			if s := seconds.FindStringSubmatch(rest); s != nil {
				fmt.Fprintf(&b, "sleep %s\n", s[2])
			}
		default:
			fmt.Fprintf(&b, "printf '%%s\\n' %s\n", rest)
		}
	}
	return b.String()
}
