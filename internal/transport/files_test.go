package transport_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/internal/testsshd"
	"github.com/stead-io/stead/internal/transport"
)

// TestFiles moves files through each protocol's Communicator the same
// way: what Upload writes, Download reads back.
func TestFiles(t *testing.T) {
	srv := testsshd.Start(t)
	sshConn, err := srv.Dialer(t).Dial(context.Background(), srv.Target("127.0.0.1"))
	require.NoError(t, err)
	t.Cleanup(func() { sshConn.Close() })
	localHome := t.TempDir()
	t.Setenv("HOME", localHome)
	localConn, err := transport.LocalDialer{}.Dial(context.Background(), transport.Target{Kind: transport.KindLocal})
	require.NoError(t, err)

	for name, c := range map[string]transport.Communicator{"ssh": sshConn, "local": localConn} {
		t.Run(name, func(t *testing.T) {
			dir := fmt.Sprintf("stead-files-%s-%d", name, time.Now().UnixNano())
			t.Cleanup(func() { _, _ = c.Run(context.Background(), "rm -rf \"$HOME\"/"+dir, nil, nil, nil) })
			home := sh(t, c, `printf %s "$HOME"`)

			// A relative destination is under the login's home; missing
			// directories are created; a second upload replaces the file
			// and leaves no temporary file behind.
			for _, content := range []string{"one", "two, longer"} {
				got, err := c.Upload(context.Background(), dir+"/a/b/file", strings.NewReader(content), 0o640)
				require.NoError(t, err)
				require.Equal(t, path.Join(home, dir, "a/b/file"), got)
			}
			require.Equal(t, "file", sh(t, c, "ls -A \"$HOME\"/"+dir+"/a/b"))
			require.Equal(t, "640", sh(t, c, "stat -c %a \"$HOME\"/"+dir+"/a/b/file"))

			var out bytes.Buffer
			written, size, err := c.Download(context.Background(), dir+"/a/b/file", &out, 1<<20)
			require.NoError(t, err)
			require.Equal(t, "two, longer", out.String())
			require.EqualValues(t, 11, written)
			require.EqualValues(t, 11, size)

			out.Reset()
			written, size, err = c.Download(context.Background(), path.Join(home, dir, "a/b/file"), &out, 3)
			require.NoError(t, err)
			require.Equal(t, "two", out.String(), "the limit cuts the copy")
			require.EqualValues(t, 3, written)
			require.EqualValues(t, 11, size)

			_, _, err = c.Download(context.Background(), dir+"/missing", &out, 10)
			require.ErrorIs(t, err, fs.ErrNotExist)
			_, _, err = c.Download(context.Background(), dir+"/a", &out, 10)
			require.ErrorIs(t, err, transport.ErrNotRegular)
			sh(t, c, "mkfifo \"$HOME\"/"+dir+"/fifo")
			_, _, err = c.Download(context.Background(), dir+"/fifo", &out, 10)
			require.ErrorIs(t, err, transport.ErrNotRegular, "a FIFO is refused, not waited on")
			if sh(t, c, "id -u") != "0" {
				sh(t, c, "chmod 000 \"$HOME\"/"+dir+"/a/b/file")
				_, _, err = c.Download(context.Background(), dir+"/a/b/file", &out, 10)
				require.ErrorIs(t, err, fs.ErrPermission)
			}
		})
	}
}

// sh runs cmd on c, requires it to succeed and returns its trimmed stdout.
func sh(t *testing.T, c transport.Communicator, cmd string) string {
	t.Helper()
	code, out, errOut := run(t, c, cmd, "")
	require.Equal(t, 0, code, "%s: %s", cmd, errOut)
	return strings.TrimSpace(out)
}

func TestRegistry(t *testing.T) {
	rec := &recordingProtocol{port: 5986}
	r := transport.NewRegistry(map[string]transport.Protocol{"winrm": rec, transport.KindLocal: transport.LocalDialer{}})

	_, err := r.Dial(context.Background(), transport.Target{NodeID: "w", Address: "10.0.0.9", Kind: "winrm"})
	require.NoError(t, err)
	require.Equal(t, 5986, rec.got.Port, "a target without a port gets the protocol's default")
	_, err = r.Dial(context.Background(), transport.Target{NodeID: "w", Address: "10.0.0.9", Port: 15986, Kind: "winrm"})
	require.NoError(t, err)
	require.Equal(t, 15986, rec.got.Port, "a port given is kept")

	_, err = r.Dial(context.Background(), transport.Target{NodeID: "web-1", Address: "10.0.0.5", Kind: transport.KindSSH})
	var te *transport.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, transport.InvalidTarget, te.Kind)
	require.False(t, te.Retryable())
	require.Equal(t, `reach node web-1 at 10.0.0.5: invalid target: no communicator for transport "ssh" on this worker (it has: local, winrm)`, err.Error())
}

// recordingProtocol is a fake Protocol: it records the target it was asked
// to dial and dials nothing.
type recordingProtocol struct {
	port int
	got  transport.Target
}

func (p *recordingProtocol) DefaultPort() int { return p.port }

func (p *recordingProtocol) Dial(ctx context.Context, t transport.Target) (transport.Communicator, error) {
	p.got = t
	return transport.LocalDialer{}.Dial(ctx, transport.Target{Kind: transport.KindLocal})
}
