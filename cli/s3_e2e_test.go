package cli_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/outputstore"
	"github.com/stead-io/stead/internal/testsshd"
)

// startS3 serves an S3 API over real HTTP, backed by gofakes3's in-memory
// fake (no S3-compatible server runs here), with the buckets given. PUTs
// into the bucket "refusing" are refused as S3 refuses a write without
// permission. It points the AWS SDK's environment at it.
func startS3(t *testing.T, buckets ...string) {
	backend := s3mem.New()
	for _, b := range append(buckets, "refusing") {
		require.NoError(t, backend.CreateBucket(b))
	}
	fake := gofakes3.New(backend).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/refusing/") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`))
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3": srv.URL, "AWS_S3_USE_PATH_STYLE": "true", "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		t.Setenv(k, v)
	}
}

// A worker with --output-url puts each step's full output in the bucket,
// under SSM's layout, and `association output` reads it from any
// directory; a bucket that refuses writes fails no step, and says so.
func TestOutputInS3(t *testing.T) {
	startS3(t, "stead-output")
	sshd := testsshd.Start(t)
	h := &harness{t: t, sshd: sshd, tag: "s3-output"}
	stop := startWorkerCommand(t, sshd, "--output-url", "s3://stead-output/runs", "--output-dir", t.TempDir())
	h.register("s3-1", 91)
	id, want := runLongOutput(t, "s3-output", "s3-1")

	outs := targetsJSON(t, "s3-output", id)
	require.Len(t, outs, 1)
	step := outs[0].Output[0]
	require.Empty(t, step.OutputStoreError)
	require.Equal(t, "s3://stead-output/runs/"+id+"/s3-1/"+step.Name+"/", step.OutputURL, "the location is in the execution's results")

	client, err := outputstore.NewS3Client(context.Background())
	require.NoError(t, err)
	var stored bytes.Buffer
	require.NoError(t, outputstore.ReadURL(context.Background(), client, step.OutputURL+"stdout", &stored))
	require.Equal(t, want, stored.String(), "the full stdout, at <prefix>/<execution>/<node>/<step>/stdout")

	// From another directory, with no output store of its own.
	t.Chdir(t.TempDir())
	args := []string{"association", "output", "s3-output", "--execution", id, "--node", "s3-1"}
	require.Equal(t, want, ok(t, args...))
	require.Equal(t, "err-line\n", ok(t, append(args, "--stderr", "--step", step.Name)...))
	ok(t, "association", "delete", "s3-output")
	stop()

	// A bucket that refuses writes: the step succeeds, the result says why
	// its output is not stored.
	stop = startWorkerCommand(t, sshd, "--output-url", "s3://refusing/runs", "--output-dir", t.TempDir())
	defer stop()
	out := ok(t, "association", "create", "--name", "s3-refused", "--document", "Stead-RunShellScript",
		"--targets", "Key=InstanceIds,Values=s3-1", "--parameters", `{"commands":["echo hi"]}`, "--wait")
	outs = targetsJSON(t, "s3-refused", execID(t, out))
	require.Len(t, outs, 1)
	require.Equal(t, contract.StatusSuccess, outs[0].Status)
	require.Equal(t, "hi\n", outs[0].Output[0].Stdout)
	require.Contains(t, outs[0].Output[0].OutputStoreError, "AccessDenied")
	ok(t, "association", "delete", "s3-refused")
}
