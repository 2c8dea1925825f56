package worker_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/transport"
)

// The fakes below stand in for what no machine here can run: a Windows
// host, reached by a communicator that is neither SSH nor local, spoken to
// by a runner that is not POSIX. They are what WinRM and PowerShell will
// be, reduced to what makes their traffic visible to a test: fakeProtocol
// dials fakeConns to one fakeHost, and fakeRunner speaks to that host only
// through the Communicator it is given.

// fakeHost is a fake Windows host whose shell understands three commands
// (fakeRunCommand, fakeBootIDCommand, fakeRebootCommand) and whose scripts
// are PowerShell lines of two kinds, `Write-Output TEXT` and `exit N`. It
// keeps its files, runs and boots in memory and records what it was asked.
type fakeHost struct {
	mu       sync.Mutex
	boot     int  // the current boot is "boot-<boot>"
	down     bool // the host is still booting: the next dial fails
	dials    []transport.Target
	commands []string
	files    map[string][]byte
	uploads  []string
	reads    []string
	runs     map[string]fakeReply
	started  []string            // run ids, in the order the host started them
	dropped  map[string]bool     // runs whose first reply the connection lost
	rebooted map[string]int      // the boot each reboot's run left
	envs     map[string][]string // the environment each run was given, as NAME=VALUE
}

func newFakeHost() *fakeHost {
	return &fakeHost{boot: 1, files: map[string][]byte{}, runs: map[string]fakeReply{},
		dropped: map[string]bool{}, rebooted: map[string]int{}, envs: map[string][]string{}}
}

// The fake host's commands.
const (
	fakeRunCommand    = "fake-run" // stdin: a fakeRequest; stdout: a fakeReply
	fakeBootIDCommand = "fake-boot-id"
	fakeRebootCommand = "fake-reboot" // RUNID
	// fakeDropLine in a script makes the connection lose the run's reply
	// the first time, as a connection dropping mid-step does.
	fakeDropLine = "# fake: drop the connection once"
)

// fakeRequest is what fakeRunner sends to start, attach to or collect a run.
type fakeRequest struct {
	RunID  string
	Script string
	Env    []runner.EnvVar
}

// fakeReply is what a run did.
type fakeReply struct {
	ExitCode       int
	Stdout, Stderr string
	Resumed        bool
}

// exec runs one command on the host. drop tells the connection to lose the reply.
func (h *fakeHost) exec(cmd string, stdin io.Reader, stdout io.Writer) (code int, drop bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commands = append(h.commands, cmd)
	name, arg, _ := strings.Cut(cmd, " ")
	switch name {
	case fakeRunCommand:
		var req fakeRequest
		if err := json.NewDecoder(stdin).Decode(&req); err != nil {
			return 2, false
		}
		reply, ok := h.runs[req.RunID]
		if ok {
			reply.Resumed = true
		} else {
			reply = interpret(req)
			h.runs[req.RunID] = reply
			h.started = append(h.started, req.RunID)
			for _, e := range req.Env {
				h.envs[req.RunID] = append(h.envs[req.RunID], e.Name+"="+e.Value)
			}
			h.files["runs/"+req.RunID+"/stdout"] = []byte(reply.Stdout)
			h.files["runs/"+req.RunID+"/stderr"] = []byte(reply.Stderr)
		}
		drop = strings.Contains(req.Script, fakeDropLine) && !h.dropped[req.RunID]
		h.dropped[req.RunID] = true
		_ = json.NewEncoder(stdout).Encode(reply)
		return 0, drop
	case fakeBootIDCommand:
		fmt.Fprintf(stdout, "boot-%d\n", h.boot)
		return 0, false
	case fakeRebootCommand:
		// As the POSIX runner does: a run whose reboot already happened
		// does not reboot the host again.
		if from, ok := h.rebooted[arg]; ok && from != h.boot {
			fmt.Fprintf(stdout, "boot-%d\n", from)
			return 0, false
		}
		h.rebooted[arg] = h.boot
		fmt.Fprintf(stdout, "boot-%d\n", h.boot)
		h.boot++
		h.down = true
		return 0, false
	}
	return 127, false
}

// psEnv is a PowerShell environment variable reference, as documents render
// parameters into aws:runPowerShellScript scripts.
var psEnv = regexp.MustCompile(`\$\{env:([A-Za-z0-9_]+)\}`)

// interpret runs a script of the fake host's PowerShell.
func interpret(req fakeRequest) fakeReply {
	var r fakeReply
	env := map[string]string{}
	for _, e := range req.Env {
		env[e.Name] = e.Value
	}
	sc := bufio.NewScanner(strings.NewReader(req.Script))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line == fakeDropLine:
		case strings.HasPrefix(line, "Write-Output "):
			text := psEnv.ReplaceAllStringFunc(strings.TrimPrefix(line, "Write-Output "), func(ref string) string {
				return env[psEnv.FindStringSubmatch(ref)[1]]
			})
			r.Stdout += text + "\n"
		case strings.HasPrefix(line, "exit "):
			code, err := strconv.Atoi(strings.TrimPrefix(line, "exit "))
			if err != nil {
				code = 1
			}
			r.ExitCode = code
			return r
		default:
			r.Stderr += "fake host: unknown command: " + line + "\n"
			r.ExitCode = 1
			return r
		}
	}
	return r
}

// fakeProtocol is a fake transport.Protocol reaching one fakeHost.
type fakeProtocol struct{ host *fakeHost }

// DefaultPort implements transport.Protocol.
func (fakeProtocol) DefaultPort() int { return 5986 }

// Dial implements transport.Protocol. A host still booting refuses the
// dial as an unreachable host does.
func (p fakeProtocol) Dial(_ context.Context, t transport.Target) (transport.Communicator, error) {
	h := p.host
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dials = append(h.dials, t)
	if h.down {
		h.down = false
		return nil, &transport.Error{Kind: transport.Unreachable, NodeID: t.NodeID, Addr: t.Address, Err: errors.New("fake host is booting")}
	}
	return &fakeConn{host: h, boot: h.boot}, nil
}

// fakeConn is a fake transport.Communicator: one connection to a fakeHost,
// which does not outlive the boot it was made in.
type fakeConn struct {
	host *fakeHost
	boot int
}

// Run implements transport.Communicator.
func (c *fakeConn) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	if !c.Alive() {
		return -1, fmt.Errorf("fake connection ended with boot-%d: %w", c.boot, transport.ErrNotStarted)
	}
	if stdout == nil {
		stdout = io.Discard
	}
	code, drop := c.host.exec(cmd, stdin, stdout)
	if drop {
		return -1, errors.New("fake connection dropped after the command started")
	}
	return code, nil
}

// Upload implements transport.Communicator.
func (c *fakeConn) Upload(_ context.Context, dest string, r io.Reader, _ os.FileMode) (string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	c.host.mu.Lock()
	defer c.host.mu.Unlock()
	c.host.files[dest] = b
	c.host.uploads = append(c.host.uploads, dest)
	return dest, nil
}

// Download implements transport.Communicator.
func (c *fakeConn) Download(_ context.Context, src string, w io.Writer, limit int64) (int64, int64, error) {
	c.host.mu.Lock()
	b, ok := c.host.files[src]
	c.host.reads = append(c.host.reads, src)
	c.host.mu.Unlock()
	if !ok {
		return 0, 0, fmt.Errorf("download %s: %w", src, fs.ErrNotExist)
	}
	n, err := w.Write(b[:min(int64(len(b)), limit)])
	return int64(n), int64(len(b)), err
}

// Alive implements transport.Communicator.
func (c *fakeConn) Alive() bool {
	c.host.mu.Lock()
	defer c.host.mu.Unlock()
	return c.host.boot == c.boot
}

// Close implements transport.Communicator.
func (c *fakeConn) Close() error { return nil }

// fakeRunner is a fake runner.Runner for fakeHost's PowerShell.
type fakeRunner struct{}

// Shell implements runner.Runner.
func (fakeRunner) Shell() string { return documents.ShellPowerShell }

// Run implements runner.Runner: one fakeRunCommand starts, attaches to or
// collects the run.
func (fakeRunner) Run(ctx context.Context, c transport.Communicator, spec runner.Spec, _ func()) (runner.Result, error) {
	req, err := json.Marshal(fakeRequest{RunID: spec.RunID, Script: spec.Script, Env: spec.Env})
	if err != nil {
		return runner.Result{}, err
	}
	var out bytes.Buffer
	code, err := c.Run(ctx, fakeRunCommand, bytes.NewReader(req), &out, nil)
	if err != nil {
		return runner.Result{}, fmt.Errorf("run step %s: %w", spec.RunID, err)
	}
	var reply fakeReply
	if err := json.Unmarshal(out.Bytes(), &reply); code != 0 || err != nil {
		return runner.Result{}, fmt.Errorf("run step %s: exit status %d: %v", spec.RunID, code, err)
	}
	res := runner.Result{
		ExitCode: reply.ExitCode, Resumed: reply.Resumed, RunDir: "runs/" + spec.RunID,
		StdoutBytes: int64(len(reply.Stdout)), StderrBytes: int64(len(reply.Stderr)),
	}
	res.Stdout, res.StdoutTruncated = cut(reply.Stdout, spec.StdoutLimit)
	res.Stderr, res.StderrTruncated = cut(reply.Stderr, spec.StderrLimit)
	return res, nil
}

// cut keeps the first limit bytes of s (0: all of it).
func cut(s string, limit int) (string, bool) {
	if limit > 0 && len(s) > limit {
		return s[:limit], true
	}
	return s, false
}

// Fetch implements runner.Runner through the communicator's Download.
func (fakeRunner) Fetch(ctx context.Context, c transport.Communicator, runID string, stream runner.Stream, limit int64, w io.Writer) (int64, int64, error) {
	return c.Download(ctx, "runs/"+runID+"/"+string(stream), w, limit)
}

// Reboot implements runner.Runner.
func (fakeRunner) Reboot(ctx context.Context, c transport.Communicator, r runner.Reboot) (string, error) {
	var out bytes.Buffer
	code, err := c.Run(ctx, fakeRebootCommand+" "+r.RunID, nil, &out, nil)
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("%w: exit status %d", runner.ErrRebootFailed, code)
	}
	return strings.TrimSpace(out.String()), nil
}

// BootID implements runner.Runner.
func (fakeRunner) BootID(ctx context.Context, c transport.Communicator, _ string) (string, error) {
	var out bytes.Buffer
	if _, err := c.Run(ctx, fakeBootIDCommand, nil, &out, nil); err != nil {
		return "", err
	}
	return strings.TrimSpace(out.String()), nil
}

// ReadFile implements runner.Runner through the communicator's Download.
func (fakeRunner) ReadFile(ctx context.Context, c transport.Communicator, path string, limit int64) ([]byte, error) {
	var b bytes.Buffer
	_, _, err := c.Download(ctx, path, &b, limit)
	return b.Bytes(), err
}

// Upload implements runner.Runner through the communicator's Upload.
func (fakeRunner) Upload(ctx context.Context, c transport.Communicator, dest string, r io.Reader, perm os.FileMode) (string, error) {
	return c.Upload(ctx, dest, r, perm)
}
