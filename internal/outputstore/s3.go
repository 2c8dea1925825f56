package outputstore

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 stream object names, SSM's: <prefix>/<execution>/<node>/<step>/stdout.
const (
	S3Stdout = "stdout"
	S3Stderr = "stderr"
)

// S3 is an output store in an S3-compatible bucket (AWS S3, MinIO,
// SeaweedFS, Ceph), laid out as SSM lays out Run Command output:
// <prefix>/<execution>/<node>/<step>/stdout|stderr. The bucket is readable
// from any machine with access, so `stead association output` reads it
// wherever it runs; the location of each step's output is recorded in the
// execution's results.
type S3 struct {
	Client         *s3.Client
	Bucket, Prefix string
}

// ParseS3URL splits s3://bucket/prefix into its bucket and prefix.
func ParseS3URL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("output url %q: want s3://bucket[/prefix]", raw)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// NewS3 opens the bucket of an s3://bucket/prefix URL with NewS3Client.
func NewS3(ctx context.Context, rawURL string) (*S3, error) {
	bucket, prefix, err := ParseS3URL(rawURL)
	if err != nil {
		return nil, err
	}
	client, err := NewS3Client(ctx)
	if err != nil {
		return nil, err
	}
	return &S3{Client: client, Bucket: bucket, Prefix: prefix}, nil
}

// NewS3Client is an S3 client configured as the AWS SDK configures one:
// credentials and region from the environment, the shared config and
// credentials files (AWS_PROFILE) or the instance's role; AWS_ENDPOINT_URL_S3
// (or AWS_ENDPOINT_URL) for another S3 API server; AWS_S3_USE_PATH_STYLE=true
// for servers that want path-style addressing, as MinIO and SeaweedFS do.
// Without a region, us-east-1.
func NewS3Client(ctx context.Context) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load aws configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	pathStyle := os.Getenv("AWS_S3_USE_PATH_STYLE") == "true"
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle }), nil
}

// ObjectKey is the object of one stream (S3Stdout or S3Stderr) of a step.
func (s *S3) ObjectKey(k Key, stream string) (string, error) {
	if err := k.validateS3(); err != nil {
		return "", err
	}
	return path.Join(s.Prefix, k.Execution, k.Node, k.Step, stream), nil
}

// validateS3 rejects keys whose parts would leave their level.
func (k Key) validateS3() error {
	a := k
	if a.Association == "" {
		a.Association = "-" // S3 keys are by execution, as SSM's
	}
	return a.validate(true)
}

// URL is where a step's output is: s3://bucket/prefix/<execution>/<node>/<step>/.
func (s *S3) URL(k Key) (string, error) {
	obj, err := s.ObjectKey(k, S3Stdout)
	if err != nil {
		return "", err
	}
	return "s3://" + s.Bucket + "/" + strings.TrimSuffix(obj, S3Stdout), nil
}

// Write stores one stream of a step, replacing an earlier attempt's.
// fill's content is spooled to a temporary file first, so the upload
// knows its length and is retried by the SDK from the start.
func (s *S3) Write(ctx context.Context, k Key, stream string, fill func(io.Writer) error) error {
	obj, err := s.ObjectKey(k, stream)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "stead-output-*")
	if err != nil {
		return fmt.Errorf("spool output: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := fill(f); err != nil {
		return fmt.Errorf("spool output: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool output: %w", err)
	}
	_, err = s.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(obj), Body: f, ContentType: aws.String("text/plain; charset=utf-8")})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", s.Bucket, obj, err)
	}
	return nil
}

// ReadURL copies the object at s3://bucket/key to w, with the client's
// configuration.
func ReadURL(ctx context.Context, client *s3.Client, rawURL string, w io.Writer) error {
	bucket, key, err := ParseS3URL(rawURL)
	if err != nil {
		return err
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("get %s: %w", rawURL, err)
	}
	defer out.Body.Close()
	if _, err := io.Copy(w, out.Body); err != nil {
		return fmt.Errorf("read %s: %w", rawURL, err)
	}
	return nil
}
