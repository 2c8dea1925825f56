package powershell

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/runner"
	"github.com/stead-io/stead/internal/transport"
)

var (
	//go:embed programs/bootstrap.ps1
	bootstrap string
	//go:embed programs/common.ps1
	common string
	//go:embed programs/run.ps1
	runProgram string
	//go:embed programs/wrapper.ps1
	wrapperProgram string
	//go:embed programs/stop.ps1
	stopProgram string
	//go:embed programs/fetch.ps1
	fetchProgram string
	//go:embed programs/bootid.ps1
	bootIDProgram string
	//go:embed programs/reboot.ps1
	rebootProgram string
	//go:embed programs/read.ps1
	readProgram string
	//go:embed programs/write.ps1
	writeProgram string
)

// PowerShellArgs are the arguments powershell.exe is started with for
// every operation, as the SSM agent starts it, before -EncodedCommand.
const PowerShellArgs = "-NoLogo -NoProfile -NonInteractive -ExecutionPolicy Unrestricted"

// Runner is the runner.Runner of Windows nodes. Its zero value is ready
// to use.
type Runner struct{}

// Shell implements runner.Runner: scripts are PowerShell scripts.
func (Runner) Shell() string { return documents.ShellPowerShell }

// heartbeatInterval is how often Run calls heartbeat while it waits.
var heartbeatInterval = 5 * time.Second

// stopTimeout bounds the command that stops a cancelled run.
const stopTimeout = 30 * time.Second

// CommandLine is the command every operation runs: powershell.exe with
// the constant bootstrap, which reads the program and its parameters from
// stdin.
func CommandLine() string {
	return "powershell.exe " + PowerShellArgs + " -EncodedCommand " + encodeCommand(bootstrap)
}

// encodeCommand is PowerShell's -EncodedCommand form: base64 of UTF-16LE.
func encodeCommand(s string) string {
	units := utf16.Encode([]rune(strings.TrimSpace(s)))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		b[2*i], b[2*i+1] = byte(u), byte(u>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// program is a program's full text: its header line, the common
// preamble, its body.
func program(text string) string {
	head, body, _ := strings.Cut(text, "\n")
	return head + "\n" + strings.Replace(body, "@COMMON@\n", common, 1)
}

// Stdin is what an operation sends: the program and its parameters, one
// base64 line each.
func Stdin(text string, params any) (string, error) {
	js, err := json.Marshal(params)
	if err != nil {
		return "", fmt.Errorf("encode parameters: %w", err)
	}
	return base64.StdEncoding.EncodeToString([]byte(program(text))) + "\n" + base64.StdEncoding.EncodeToString(js) + "\n", nil
}

// invoke runs one operation through c.
func invoke(ctx context.Context, c transport.Communicator, text string, params any, stdout, stderr io.Writer) (int, error) {
	in, err := Stdin(text, params)
	if err != nil {
		return -1, err
	}
	return c.Run(ctx, CommandLine(), strings.NewReader(in), stdout, stderr)
}

// runParams are the run program's parameters.
type runParams struct {
	RunID            string   `json:"runId"`
	Script           string   `json:"script"`
	Env              []envVar `json:"env"`
	WorkingDirectory string   `json:"workingDirectory"`
	TimeoutSeconds   int64    `json:"timeoutSeconds"`
	GraceSeconds     int64    `json:"graceSeconds"`
	OutLimit         int      `json:"outLimit"`
	ErrLimit         int      `json:"errLimit"`
	Wrapper          string   `json:"wrapper"`
}

type envVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// RunParams are the run program's parameters for spec, as JSON: what the
// node receives.
func RunParams(spec runner.Spec) any {
	env := make([]envVar, len(spec.Env))
	for i, e := range spec.Env {
		env[i] = envVar{Name: e.Name, Value: e.Value}
	}
	return runParams{
		RunID: spec.RunID, Script: spec.Script, Env: env, WorkingDirectory: spec.WorkingDirectory,
		TimeoutSeconds: seconds(spec.Timeout), GraceSeconds: seconds(spec.KillGrace),
		OutLimit: spec.StdoutLimit, ErrLimit: spec.StderrLimit, Wrapper: wrapperProgram,
	}
}

// Run implements runner.Runner: one command runs the run program, which
// collects, attaches to or launches the run. Cancelling ctx stops the
// script over a fresh command.
func (Runner) Run(ctx context.Context, conn transport.Communicator, spec runner.Spec, heartbeat func()) (runner.Result, error) {
	spec, err := normalize(spec)
	if err != nil {
		return runner.Result{}, fmt.Errorf("run step %s: %w", spec.RunID, err)
	}
	stopBeating := runner.Beat(heartbeat, heartbeatInterval)
	stdout := &runner.Capped{Max: spec.StdoutLimit + runner.ReplySlack}
	stderr := &runner.Capped{Max: spec.StderrLimit + runner.ReplySlack}
	code, err := invoke(ctx, conn, runProgram, RunParams(spec), stdout, stderr)
	stopBeating()
	if ctx.Err() != nil {
		if stopErr := stop(conn, spec); stopErr != nil {
			return runner.Result{}, errors.Join(ctx.Err(), stopErr)
		}
		return runner.Result{}, ctx.Err()
	}
	if err != nil {
		return runner.Result{}, fmt.Errorf("run step %s: %w", spec.RunID, err)
	}
	res, state, err := runner.ParseReply(stdout.Bytes(), stderr.Bytes(), spec)
	if err != nil {
		return runner.Result{}, fmt.Errorf("run step %s: %w (exit status %d)", spec.RunID, err, code)
	}
	res.Stderr = string(DecodeCLIXML([]byte(res.Stderr)))
	if state == "lost" {
		return res, fmt.Errorf("run step %s in %s: %w", spec.RunID, res.RunDir, runner.ErrInterrupted)
	}
	return res, nil
}

// firstLine is the first line of an operation's stderr for an error
// message, CLIXML decoded.
func firstLine(stderr []byte) string { return runner.FirstLine(DecodeCLIXML(stderr)) }

// stopParams are the stop program's parameters.
type stopParams struct {
	RunID        string `json:"runId"`
	GraceSeconds int64  `json:"graceSeconds"`
}

// stop ends a cancelled run on the node over a fresh command, which
// outlives the cancelled context for up to stopTimeout.
func stop(conn transport.Communicator, spec runner.Spec) error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	var stderr bytes.Buffer
	code, err := invoke(ctx, conn, stopProgram, stopParams{RunID: spec.RunID, GraceSeconds: seconds(spec.KillGrace)}, nil, &stderr)
	if err != nil {
		return fmt.Errorf("stop run %s: %w", spec.RunID, err)
	}
	if code != 0 {
		return fmt.Errorf("stop run %s: exit status %d: %s", spec.RunID, code, firstLine(stderr.Bytes()))
	}
	return nil
}

// fetchParams are the fetch program's parameters.
type fetchParams struct {
	RunID  string `json:"runId"`
	Stream string `json:"stream"`
	Limit  int64  `json:"limit"`
}

// errFetchMissing is the fetch program's exit status for a missing file.
const errFetchMissing = 3

// Fetch implements runner.Runner with one command that prints the
// stream's size and its first limit bytes. Stderr is written CLIXML
// decoded (DecodeCLIXML), so it may be shorter than the bytes kept of it,
// which the count returned is.
func (Runner) Fetch(ctx context.Context, conn transport.Communicator, runID string, stream runner.Stream, limit int64, w io.Writer) (int64, int64, error) {
	if stream != runner.Stderr {
		return fetch(ctx, conn, runID, stream, limit, w)
	}
	// CLIXML is decoded whole: the stream is buffered, up to limit.
	var raw bytes.Buffer
	n, size, err := fetch(ctx, conn, runID, stream, limit, &raw)
	if err != nil {
		return n, size, err
	}
	if _, err := w.Write(DecodeCLIXML(raw.Bytes())); err != nil {
		return n, size, fmt.Errorf("fetch %s of run %s: write output: %w", stream, runID, err)
	}
	return n, size, nil
}

func fetch(ctx context.Context, conn transport.Communicator, runID string, stream runner.Stream, limit int64, w io.Writer) (int64, int64, error) {
	if _, err := normalize(runner.Spec{RunID: runID}); err != nil {
		return 0, 0, fmt.Errorf("fetch %s of run %s: %w", stream, runID, err)
	}
	if stream != runner.Stdout && stream != runner.Stderr {
		return 0, 0, fmt.Errorf("fetch %s of run %s: want stream stdout or stderr", stream, runID)
	}
	if limit < 0 {
		return 0, 0, fmt.Errorf("fetch %s of run %s: negative limit %d", stream, runID, limit)
	}
	hw := &runner.HeaderWriter{W: w}
	var stderr bytes.Buffer
	code, err := invoke(ctx, conn, fetchProgram, fetchParams{RunID: runID, Stream: string(stream), Limit: limit}, hw, &stderr)
	switch {
	case err != nil:
		return hw.N, 0, fmt.Errorf("fetch %s of run %s: %w", stream, runID, err)
	case hw.Err != nil:
		return hw.N, 0, fmt.Errorf("fetch %s of run %s: %w", stream, runID, hw.Err)
	case code == errFetchMissing:
		return 0, 0, fmt.Errorf("fetch %s of run %s: the run directory on the node has no %s file", stream, runID, stream)
	case code != 0 || !hw.Done:
		return hw.N, 0, fmt.Errorf("fetch %s of run %s: exit status %d: %s", stream, runID, code, firstLine(stderr.Bytes()))
	}
	var size int64
	if _, perr := fmt.Sscan(string(hw.Header), &size); perr != nil {
		return hw.N, 0, fmt.Errorf("fetch %s of run %s: read size %q: %w", stream, runID, hw.Header, perr)
	}
	return hw.N, size, nil
}

// bootParams are the boot id and reboot programs' parameters.
type bootParams struct {
	RunID         string `json:"runId,omitempty"`
	Command       string `json:"command,omitempty"`
	BootIDCommand string `json:"bootIdCommand,omitempty"`
}

// BootID implements runner.Runner: the node's last boot time, or what
// command (PowerShell) prints.
func (Runner) BootID(ctx context.Context, c transport.Communicator, command string) (string, error) {
	var out, errOut bytes.Buffer
	code, err := invoke(ctx, c, bootIDProgram, bootParams{Command: command}, &out, &errOut)
	if err != nil {
		return "", fmt.Errorf("read boot id: %w", err)
	}
	if code != 0 {
		return "", fmt.Errorf("read boot id: exit status %d: %s", code, firstLine(errOut.Bytes()))
	}
	return strings.Join(strings.Fields(out.String()), ""), nil
}

// Reboot implements runner.Runner with one command running the reboot
// program: Restart-Computer -Force unless the node gives its own command.
func (Runner) Reboot(ctx context.Context, c transport.Communicator, r runner.Reboot) (string, error) {
	if _, err := normalize(runner.Spec{RunID: r.RunID}); err != nil {
		return "", fmt.Errorf("reboot for run %s: %w", r.RunID, err)
	}
	if r.Sudo {
		return "", fmt.Errorf("%w: sudo does not exist on windows nodes", runner.ErrRebootFailed)
	}
	var out, errOut bytes.Buffer
	code, runErr := invoke(ctx, c, rebootProgram, bootParams{RunID: r.RunID, Command: r.Command, BootIDCommand: r.BootIDCommand}, &out, &errOut)
	line, _, _ := strings.Cut(out.String(), "\n")
	f := strings.Fields(line)
	state, bootID := "", ""
	if len(f) == 3 && f[0] == "STEAD1" {
		state, bootID = f[1], f[2]
	}
	switch {
	case state == "rebooted":
		return bootID, nil
	case state == "rebooting" && (runErr != nil || code == 0):
		return bootID, nil
	case state == "rebooting":
		return "", fmt.Errorf("%w: the reboot command exited %d: %s", runner.ErrRebootFailed, code, firstLine(errOut.Bytes()))
	case runErr != nil:
		return "", fmt.Errorf("reboot for run %s: %w", r.RunID, runErr)
	default:
		return "", fmt.Errorf("%w: read the boot id: exit status %d: %s", runner.ErrRebootFailed, code, firstLine(errOut.Bytes()))
	}
}

// fileParams are the read and write programs' parameters.
type fileParams struct {
	Path    string `json:"path"`
	Limit   int64  `json:"limit,omitempty"`
	Content []byte `json:"content,omitempty"` // base64 in JSON
}

// Exit statuses of the read program.
const (
	readMissing    = 3
	readDenied     = 4
	readNotRegular = 5
)

// ReadFile implements runner.Runner with one command that prints the
// file's first limit bytes.
func (Runner) ReadFile(ctx context.Context, c transport.Communicator, path string, limit int64) ([]byte, error) {
	if strings.ContainsAny(path, "\x00\n") || path == "" {
		return nil, fmt.Errorf("read %q on the node: want a path without NUL or newline", path)
	}
	out := &runner.Capped{Max: int(min(limit, 64<<20))}
	var errOut bytes.Buffer
	code, err := invoke(ctx, c, readProgram, fileParams{Path: path, Limit: limit}, out, &errOut)
	switch {
	case err != nil:
		return nil, fmt.Errorf("read %s on the node: %w", path, err)
	case code == readMissing:
		return nil, fmt.Errorf("read %s on the node: %w", path, fs.ErrNotExist)
	case code == readDenied:
		return nil, fmt.Errorf("read %s on the node: %w", path, fs.ErrPermission)
	case code == readNotRegular:
		return nil, fmt.Errorf("read %s on the node: %w", path, transport.ErrNotRegular)
	case code != 0:
		return nil, fmt.Errorf("read %s on the node: exit status %d: %s", path, code, firstLine(errOut.Bytes()))
	}
	return out.Bytes(), nil
}

// maxUpload bounds a file Upload sends through the write program: it
// travels base64 in one command's input.
const maxUpload = 64 << 20

// Upload implements runner.Runner. Over a communicator that moves files
// (SFTP on a node's OpenSSH server) a drive or profile-relative path goes
// through it; over one that moves none (WinRM, which answers
// errors.ErrUnsupported without reading r), and for paths SFTP cannot
// name (UNC shares), one command runs the write program, which writes the file under a temporary name and renames it
// into place. Windows has no POSIX modes: perm is not applied, the file
// inherits its directory's ACL.
func (Runner) Upload(ctx context.Context, c transport.Communicator, dest string, r io.Reader, perm os.FileMode) (string, error) {
	if strings.ContainsAny(dest, "\x00\n") || dest == "" {
		return "", fmt.Errorf("write %q on the node: want a path without NUL or newline", dest)
	}
	if remote, err := SFTPPath(dest); err == nil {
		written, err := c.Upload(ctx, remote, r, perm)
		if err == nil {
			return WindowsPath(written), nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return "", fmt.Errorf("write %s on the node: %w", dest, err)
		}
	}
	content, err := io.ReadAll(io.LimitReader(r, maxUpload+1))
	if err != nil {
		return "", fmt.Errorf("write %s on the node: read the content: %w", dest, err)
	}
	if len(content) > maxUpload {
		return "", fmt.Errorf("write %s on the node: the file is larger than the %d bytes a windows node takes over winrm", dest, maxUpload)
	}
	var out, errOut bytes.Buffer
	code, err := invoke(ctx, c, writeProgram, fileParams{Path: dest, Content: content}, &out, &errOut)
	if err != nil {
		return "", fmt.Errorf("write %s on the node: %w", dest, err)
	}
	if code != 0 {
		return "", fmt.Errorf("write %s on the node: exit status %d: %s", dest, code, firstLine(errOut.Bytes()))
	}
	return strings.TrimSpace(out.String()), nil
}

// maxRunIDLength keeps run directory paths well inside MAX_PATH.
const maxRunIDLength = 120

// normalize fills defaults and rejects specs that cannot run safely.
func normalize(s runner.Spec) (runner.Spec, error) {
	s, errs := s.Normalized(maxRunIDLength)
	if s.Sudo {
		errs = append(errs, errors.New("sudo does not exist on windows nodes: the step runs as the login user"))
	}
	return s, errors.Join(errs...)
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
