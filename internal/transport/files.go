package transport

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pkg/sftp"
)

// tempName is the name a file is written under before it is renamed into place.
func tempName(dest string) string {
	return path.Join(path.Dir(dest), "."+path.Base(dest)+".stead-"+strconv.FormatInt(time.Now().UnixNano(), 36))
}

// Upload implements Communicator over SFTP on the connection.
func (c *sshConn) Upload(ctx context.Context, dest string, r io.Reader, perm os.FileMode) (string, error) {
	client, err := sftp.NewClient(c.client)
	if err != nil {
		return "", fmt.Errorf("start sftp: %w", err)
	}
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()
	if !path.IsAbs(dest) {
		home, err := client.Getwd()
		if err != nil {
			return "", fmt.Errorf("find the home directory: %w", err)
		}
		dest = path.Join(home, dest)
	}
	if err := client.MkdirAll(path.Dir(dest)); err != nil {
		return "", fmt.Errorf("create directory %s: %w", path.Dir(dest), err)
	}
	tmp := tempName(dest)
	f, err := client.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", tmp, err)
	}
	_, err = f.ReadFrom(r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = client.Chmod(tmp, perm)
	}
	if err == nil {
		err = client.PosixRename(tmp, dest)
	}
	if err != nil {
		_ = client.Remove(tmp)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("write %s: %w", dest, err)
	}
	return dest, nil
}

// Upload implements Communicator on the worker's own file system.
func (localConn) Upload(ctx context.Context, dest string, r io.Reader, perm os.FileMode) (string, error) {
	if !filepath.IsAbs(dest) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the home directory: %w", err)
		}
		dest = filepath.Join(home, dest)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("create directory %s: %w", filepath.Dir(dest), err)
	}
	tmp := tempName(dest)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", tmp, err)
	}
	_, err = io.Copy(f, readerWithContext{ctx, r})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", dest, err)
	}
	return dest, nil
}

// Download implements Communicator over SFTP on the connection. A
// relative src is resolved by the SFTP server, whose working directory is
// the login's home.
func (c *sshConn) Download(ctx context.Context, src string, w io.Writer, limit int64) (int64, int64, error) {
	client, err := sftp.NewClient(c.client)
	if err != nil {
		return 0, 0, fmt.Errorf("start sftp: %w", err)
	}
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()
	return download(ctx, src, w, limit, client.Stat, func(p string) (io.ReadCloser, error) { return client.Open(p) })
}

// Download implements Communicator on the worker's own file system.
func (localConn) Download(ctx context.Context, src string, w io.Writer, limit int64) (int64, int64, error) {
	if !filepath.IsAbs(src) {
		home, err := os.UserHomeDir()
		if err != nil {
			return 0, 0, fmt.Errorf("find the home directory: %w", err)
		}
		src = filepath.Join(home, src)
	}
	return download(ctx, src, w, limit, os.Stat, func(p string) (io.ReadCloser, error) { return os.Open(p) })
}

// download copies the first limit bytes of the regular file src, which
// stat and open reach, to w.
func download(ctx context.Context, src string, w io.Writer, limit int64, stat func(string) (os.FileInfo, error), open func(string) (io.ReadCloser, error)) (int64, int64, error) {
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("download %s: %w", src, err)
	}
	// Stat first: opening a FIFO would wait for a writer.
	st, err := stat(src)
	if err != nil {
		return 0, 0, fail(err)
	}
	if !st.Mode().IsRegular() {
		return 0, 0, fail(ErrNotRegular)
	}
	f, err := open(src)
	if err != nil {
		return 0, 0, fail(err)
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(readerWithContext{ctx, f}, limit))
	if err != nil {
		return n, 0, fail(err)
	}
	return n, max(st.Size(), n), nil
}

// readerWithContext stops reading once ctx is done.
type readerWithContext struct {
	ctx context.Context
	r   io.Reader
}

func (rc readerWithContext) Read(p []byte) (int, error) {
	if err := rc.ctx.Err(); err != nil {
		return 0, err
	}
	return rc.r.Read(p)
}
