package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/runner"
)

// ErrDownloadFailed is the failure type of an aws:downloadContent step that cannot
// succeed by retrying: a missing file, a refused source, a digest mismatch.
const ErrDownloadFailed = "DownloadFailed"

// MaxDownloadBytes bounds what one aws:downloadContent step copies.
const MaxDownloadBytes = 4 << 30

// runDownload carries out an aws:downloadContent step: the worker fetches the source
// into a temporary file, checks its digest, then writes it on the node. Nothing reaches
// the node unless the whole content arrived and matched.
func (a *Activities) runDownload(ctx context.Context, rn runner.Runner, n node.Node, in RunStepInput, res StepResult) (StepResult, error) {
	dl := in.Step.Download
	stop := a.heartbeat(ctx)
	defer stop()
	tmp, size, sum, err := a.fetch(ctx, dl)
	if err != nil {
		return res, err
	}
	defer os.Remove(tmp)
	if dl.SHA256 != "" && sum != dl.SHA256 {
		return res, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("sha256 of %s is %s, not the expected %s; nothing was written to the node", source(dl), sum, dl.SHA256), ErrDownloadFailed, nil)
	}
	conn, err := a.connect(ctx, n)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	f, err := os.Open(tmp)
	if err != nil {
		return res, fmt.Errorf("reopen downloaded file: %w", err)
	}
	defer f.Close()
	dest, err := rn.Upload(ctx, conn, dl.DestinationPath, f, 0o644)
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, fmt.Errorf("write %s on node %s: %w", dl.DestinationPath, n.ID, err)
	}
	res.Stdout = fmt.Sprintf("downloaded %s (%d bytes, sha256 %s) to %s\n", source(dl), size, sum, dest)
	res.EndedAt = a.now()
	activity.GetLogger(ctx).Info("content downloaded", "node", n.ID, "step", in.Step.Name, "bytes", size, "destination", dest)
	return res, nil
}

// source names a download's source in messages.
func source(dl *documents.Download) string {
	if dl.SourceType == documents.SourceHTTP {
		return dl.URL
	}
	return "worker file " + dl.Path
}

// fetch copies a download's source into a temporary file on the worker, returning its
// path, size and hex sha256.
func (a *Activities) fetch(ctx context.Context, dl *documents.Download) (string, int64, string, error) {
	var body io.ReadCloser
	switch dl.SourceType {
	case documents.SourceHTTP:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, dl.URL, nil)
		if err != nil {
			return "", 0, "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("fetch %s: %v", dl.URL, err), ErrDownloadFailed, nil)
		}
		client := a.HTTPClient
		if client == nil {
			client = http.DefaultClient
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", 0, "", fmt.Errorf("fetch %s: %w", dl.URL, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			msg := fmt.Sprintf("fetch %s: HTTP %s", dl.URL, resp.Status)
			if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
				return "", 0, "", temporal.NewApplicationError(msg, ErrDownloadFailed)
			}
			return "", 0, "", temporal.NewNonRetryableApplicationError(msg, ErrDownloadFailed, nil)
		}
		body = resp.Body
	case documents.SourceWorker:
		if a.Files == "" {
			return "", 0, "", temporal.NewNonRetryableApplicationError(
				"sourceType Worker: this worker serves no files (start it with --files DIR)", ErrDownloadFailed, nil)
		}
		f, err := os.OpenInRoot(a.Files, dl.Path)
		if err != nil {
			return "", 0, "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("worker file %s: %v", dl.Path, err), ErrDownloadFailed, nil)
		}
		body = f
	default:
		return "", 0, "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("sourceType %s is not supported", dl.SourceType), ErrDownloadFailed, nil)
	}
	defer body.Close()
	tmp, err := os.CreateTemp("", "stead-download-")
	if err != nil {
		return "", 0, "", fmt.Errorf("create temporary file: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(body, MaxDownloadBytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > MaxDownloadBytes {
		err = temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s is larger than %d bytes", source(dl), MaxDownloadBytes), ErrDownloadFailed, nil)
	}
	if err != nil {
		os.Remove(tmp.Name())
		if ctx.Err() != nil {
			return "", 0, "", ctx.Err()
		}
		return "", 0, "", fmt.Errorf("read %s: %w", source(dl), err)
	}
	return tmp.Name(), n, hex.EncodeToString(h.Sum(nil)), nil
}

// heartbeat reports liveness until the returned stop is called.
func (a *Activities) heartbeat(ctx context.Context) func() {
	every := a.HeartbeatEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				recordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done); <-stopped }
}
