package testwinrm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pkg/sftp"

	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/transport"
)

// A Windows Server node reached over its OpenSSH server runs each command
// line with its default shell (cmd.exe /c or powershell.exe -c), which
// starts the powershell.exe the runner names, and serves files over SFTP
// with drive paths ("/C:/Users/..."). StartOpenSSH emulates such a node
// with a real OpenSSH sshd whose sessions find two stand-in programs on
// their PATH, both the test binary itself:
//
//   - powershell.exe, which carries out the runner's exact invocation with
//     the same emulation the fake WinRM server uses (Host.Exec);
//   - sftp-server.exe, sshd's sftp subsystem, which serves the emulated
//     host's files under Windows OpenSSH's path names.
//
// The login shell that hands command lines to powershell.exe is still the
// test account's /bin/sh: that the runner's command lines mean the same
// to cmd.exe and to PowerShell is checked on their text (package
// powershell's tests), not by running either.

// Names the stand-in programs are installed under, and the environment
// that tells them which host they emulate.
const (
	powershellExe = "powershell.exe"
	sftpServerExe = "sftp-server.exe"
	envRoot       = "STEAD_TEST_WINDOWS_ROOT"
	envReboot     = "STEAD_TEST_WINDOWS_REBOOT"
)

// StandIn runs the test binary as one of the emulated host's programs when
// it was started as one, and reports whether it was. The TestMain of a
// package using StartOpenSSH calls it first:
//
//	if code, ok := testwinrm.StandIn(); ok {
//		os.Exit(code)
//	}
func StandIn() (int, bool) {
	if root := os.Getenv(envReboot); root != "" {
		(&Host{root: root}).reboot()
		return 0, true
	}
	root := os.Getenv(envRoot)
	if root == "" {
		return 0, false
	}
	h := &Host{root: root}
	switch filepath.Base(os.Args[0]) {
	case powershellExe:
		// sshd ends a session's commands with a signal when it closes.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT)
		defer stop()
		line := strings.Join(append([]string{powershellExe}, os.Args[1:]...), " ")
		return h.Exec(ctx, line, os.Stdin, os.Stdout, os.Stderr), true
	case sftpServerExe:
		return h.serveSFTP(struct {
			io.Reader
			io.WriteCloser
		}{os.Stdin, os.Stdout}), true
	}
	return 0, false
}

// OpenSSHHost is an emulated Windows Server node behind a real sshd.
type OpenSSHHost struct {
	// Host is the emulated node; it counts launches and keeps the boot id
	// as the WinRM server's does. Its reboots do not take sshd down.
	Host *Host
	// SSHD is the real sshd; its User logs in, with its KeyFile.
	SSHD *testsshd.Server
}

// Target is an ssh target for the node at 127.0.0.1 with sshd's host key
// pinned and the worker's default credential.
func (o *OpenSSHHost) Target() transport.Target { return o.SSHD.Target("127.0.0.1") }

// StartOpenSSH starts a real sshd whose sessions reach the emulated host's
// stand-in powershell.exe and sftp server, and stops it with the test. The
// calling test binary's TestMain must call StandIn.
func StartOpenSSH(t testing.TB) *OpenSSHHost {
	t.Helper()
	dir, err := os.MkdirTemp("", "stead-windows-ssh-")
	if err != nil {
		t.Fatalf("testwinrm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin, root := filepath.Join(dir, "bin"), filepath.Join(dir, "root")
	if err := errors.Join(os.Chmod(dir, 0o755), os.Mkdir(bin, 0o755), os.Mkdir(root, 0o755)); err != nil {
		t.Fatalf("testwinrm: %v", err)
	}
	if err := installStandIn(bin); err != nil {
		t.Fatalf("testwinrm: install the stand-in programs: %v", err)
	}
	sshd := testsshd.StartWith(t, testsshd.Options{
		Env:        []string{"PATH=" + bin + ":/usr/bin:/bin", envRoot + "=" + root},
		SFTPServer: filepath.Join(bin, sftpServerExe),
	})
	// The stand-ins run as the login user: the host's files are its own.
	u, err := user.Lookup(sshd.User)
	if err != nil {
		t.Fatalf("testwinrm: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	h := &Host{root: root}
	if err := errors.Join(os.MkdirAll(h.home(), 0o755), os.MkdirAll(h.RunsDir(), 0o755)); err != nil {
		t.Fatalf("testwinrm: %v", err)
	}
	err = filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatalf("testwinrm: %v", err)
	}
	t.Cleanup(h.Close)
	return &OpenSSHHost{Host: h, SSHD: sshd}
}

// installStandIn puts the test binary in bin under the stand-ins' names,
// where the login user may run it (the test binary's own directory is
// root's alone).
func installStandIn(bin string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	exe := filepath.Join(bin, powershellExe)
	if os.Link(self, exe) != nil {
		if err := copyFile(self, exe); err != nil {
			return err
		}
	}
	if err := os.Chmod(exe, 0o755); err != nil {
		return err
	}
	return os.Symlink(exe, filepath.Join(bin, sftpServerExe))
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// sftpHome is the login's profile as Windows OpenSSH's sftp server names
// it: where relative paths start.
const sftpHome = "/C:/Users/stead"

// serveSFTP serves the host's files over SFTP on rw as Windows OpenSSH's
// sftp-server names them: "/C:/dir/file" for C:\dir\file, relative paths
// from the profile.
func (h *Host) serveSFTP(rw io.ReadWriteCloser) int {
	fs := sftpFS{h}
	srv := sftp.NewRequestServer(rw, sftp.Handlers{FileGet: fs, FilePut: fs, FileCmd: fs, FileList: fs}, sftp.WithStartDirectory(sftpHome))
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(os.Stderr, "sftp-server.exe:", err)
		return 1
	}
	return 0
}

// sftpFS maps SFTP requests onto the emulated host's files.
type sftpFS struct{ h *Host }

// local is the file that emulates the SFTP path p ("/C:/dir/file").
func (f sftpFS) local(p string) (string, error) {
	rest, ok := strings.CutPrefix(path.Clean(p), "/")
	if len(rest) < 2 || rest[1] != ':' || !ok || len(rest) > 2 && rest[2] != '/' {
		return "", fmt.Errorf("%s: not a drive path: %w", p, os.ErrNotExist)
	}
	local, _ := f.h.hostPath(rest[:2] + `\` + strings.ReplaceAll(strings.TrimPrefix(rest[2:], "/"), "/", `\`))
	return local, nil
}

func (f sftpFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	p, err := f.local(r.Filepath)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

func (f sftpFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	p, err := f.local(r.Filepath)
	if err != nil {
		return nil, err
	}
	flags := os.O_WRONLY
	pf := r.Pflags()
	if pf.Creat {
		flags |= os.O_CREATE
	}
	if pf.Excl {
		flags |= os.O_EXCL
	}
	if pf.Trunc {
		flags |= os.O_TRUNC
	}
	return os.OpenFile(p, flags, 0o644)
}

func (f sftpFS) Filecmd(r *sftp.Request) error {
	p, err := f.local(r.Filepath)
	if err != nil {
		return err
	}
	switch r.Method {
	case "Setstat":
		// Windows keeps no POSIX modes; its sftp server accepts them.
		return nil
	case "Rename", "PosixRename":
		to, err := f.local(r.Target)
		if err != nil {
			return err
		}
		return os.Rename(p, to)
	case "Mkdir":
		return os.Mkdir(p, 0o755)
	case "Rmdir", "Remove":
		return os.Remove(p)
	}
	return sftp.ErrSSHFxOpUnsupported
}

func (f sftpFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	p, err := f.local(r.Filepath)
	if err != nil {
		return nil, err
	}
	switch r.Method {
	case "Stat", "Lstat":
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		return listerAt{st}, nil
	case "List":
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var infos listerAt
		for _, e := range entries {
			if st, err := e.Info(); err == nil {
				infos = append(infos, st)
			}
		}
		return infos, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// listerAt lists file infos for the SFTP server.
type listerAt []os.FileInfo

func (l listerAt) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if int(off)+n == len(l) {
		return n, io.EOF
	}
	return n, nil
}
