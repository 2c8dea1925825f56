package activities

import (
	"context"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/stead-io/stead/internal/transport"
)

// Error types of non-retryable activity failures. Workflows map them to a
// target status; a failure of any other type is retried.
const (
	ErrHostKeyUnknown  = "HostKeyUnknown"
	ErrHostKeyMismatch = "HostKeyMismatch"
	ErrAuthFailed      = "AuthFailed"
	ErrNoCredential    = "NoCredential"
	ErrUnreachable     = "Unreachable"
	ErrNodeNotFound    = "NodeNotFound"
	ErrInvalidDocument = "InvalidDocument"
	ErrInvalidStep     = "InvalidStep"
)

// DeliveryErrors are the failure types that mean the step never reached the
// node: a target failing with one is Undeliverable, not Failed.
var DeliveryErrors = []string{ErrHostKeyUnknown, ErrHostKeyMismatch, ErrAuthFailed, ErrNoCredential, ErrUnreachable, ErrNodeNotFound}

// Connector opens a connection to a node; transport.Pool implements it.
type Connector interface {
	Get(ctx context.Context, t transport.Target) (transport.Conn, error)
}

// Activities carries what the activities need. One value is registered
// with a worker; its methods are the activities.
type Activities struct {
	// Client reads node workflows (visibility and describe).
	Client client.Client
	// Namespace is the namespace the nodes live in.
	Namespace string
	// DataConverter decodes node memos; it must match the client's.
	DataConverter converter.DataConverter
	// Nodes connects to nodes.
	Nodes Connector
	// Now is the clock, for the times recorded in step results.
	Now func() time.Time
	// HeartbeatEvery is how often a running step reports liveness.
	HeartbeatEvery time.Duration
	// Files is the directory whose files aws:downloadContent (sourceType Worker) may copy
	// to nodes; "" serves none, so a document cannot read the worker's own files.
	Files string
	// OutputDir is the output store's directory (internal/outputstore),
	// where each step's full stdout and stderr go; "" stores none.
	OutputDir string
	// HTTPClient fetches aws:downloadContent HTTP sources; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Secrets resolves {{ssm-secure:NAME}} parameter values just before a step runs; nil
	// holds none, so a step that references a secret fails with ErrSecretNotFound.
	Secrets SecretSource
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Activities) converter() converter.DataConverter {
	if a.DataConverter != nil {
		return a.DataConverter
	}
	return converter.GetDefaultDataConverter()
}
