package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pkg/sftp"
)

// Uploader writes files on a node. The SSH transport writes over SFTP, the local
// transport on the worker's own file system. A file is written under a temporary name
// and renamed into place, so a node never sees half a file at the destination.
type Uploader interface {
	// Upload writes r to dest with mode perm, creating missing parent directories. A
	// relative dest is relative to the login's home directory. It returns the absolute
	// path written.
	Upload(ctx context.Context, dest string, r io.Reader, perm os.FileMode) (string, error)
}

// ErrNoUpload is returned by Upload on a connection that cannot write files.
var ErrNoUpload = errors.New("this transport cannot write files")

// Upload writes r to dest on c's node if c's transport can write files.
func Upload(ctx context.Context, c Conn, dest string, r io.Reader, perm os.FileMode) (string, error) {
	if pc, ok := c.(*pooledConn); ok {
		pc.mu.Lock()
		inner := pc.conn
		pc.mu.Unlock()
		if inner == nil {
			return "", errors.New("upload on a connection given back to the pool")
		}
		c = inner
	}
	u, ok := c.(Uploader)
	if !ok {
		return "", ErrNoUpload
	}
	return u.Upload(ctx, dest, r, perm)
}

// tempName is the name a file is written under before it is renamed into place.
func tempName(dest string) string {
	return path.Join(path.Dir(dest), "."+path.Base(dest)+".stead-"+strconv.FormatInt(time.Now().UnixNano(), 36))
}

// Upload implements Uploader over SFTP on the connection.
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

// Upload implements Uploader on the worker's own file system.
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
