package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/outputstore"
	"github.com/stead-io/stead/internal/runner"
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
	// ErrInvalidTarget: this worker cannot reach the node at all: its
	// transport or platform has no communicator or runner here, or its
	// spec is unusable.
	ErrInvalidTarget = string(transport.InvalidTarget)
)

// DeliveryErrors are the failure types that mean the step never reached the
// node: a target failing with one is Undeliverable, not Failed.
var DeliveryErrors = []string{ErrHostKeyUnknown, ErrHostKeyMismatch, ErrAuthFailed, ErrNoCredential, ErrUnreachable, ErrNodeNotFound}

// Connector lends connections to nodes, through the communicator of each
// node's transport; transport.Pool implements it.
type Connector interface {
	// Get lends a connection to t; closing it gives it back.
	Get(ctx context.Context, t transport.Target) (transport.Communicator, error)
	// Drop forgets the idle connections to t, whose node went away (it
	// rebooted), so the next Get dials afresh.
	Drop(t transport.Target)
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
	// Runners picks the runner (internal/runner) for a node's platform:
	// what speaks the node's shell over the connection. worker.Run fills in
	// worker.DefaultRunners when it is nil.
	Runners *runner.Registry
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
	// OutputS3, when set, is the output store instead of OutputDir: an
	// S3-compatible bucket any machine with access can read.
	OutputS3 *outputstore.S3
	// HTTPClient fetches aws:downloadContent HTTP sources; nil means http.DefaultClient.
	HTTPClient *http.Client
	// NodeSlots bounds the nodes this worker runs steps on at once, across
	// all its batches: a batch holds a slot for each node it is running.
	// nil bounds none. worker.Run sets it from its MaxConcurrentSteps.
	NodeSlots chan struct{}
	// Secrets resolves {{ssm-secure:NAME}} parameter values just before a step runs; nil
	// holds none, so a step that references a secret fails with ErrSecretNotFound.
	Secrets SecretSource
	// Events delivers state-change events (activities/events.go); nil
	// publishes none.
	Events EventPublisher
	// Metrics counts what the activities do (internal/metrics); nil
	// counts nothing.
	Metrics MetricsRecorder
}

// MetricsRecorder counts what the activities do, for the worker's
// Prometheus metrics.
type MetricsRecorder interface {
	// NodeEnded counts a node's outcome in an execution and its steps'.
	NodeEnded(sum contract.TargetSummary)
	// ExecutionEnded counts an execution's end.
	ExecutionEnded(status string)
	// DialFailed counts a connection to a node that failed, by kind.
	DialFailed(kind string)
}

// runnerFor is the runner for n's platform. A platform this worker has no
// runner for fails for good: retrying on the same worker cannot help.
func (a *Activities) runnerFor(n node.Node) (runner.Runner, error) {
	rn, err := a.Runners.For(n.Platform)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("node %s: %v", n.ID, err), ErrInvalidTarget, nil)
	}
	return rn, nil
}

// connect lends a connection to n, through the communicator of its
// transport.
func (a *Activities) connect(ctx context.Context, n node.Node) (transport.Communicator, error) {
	c, err := a.Nodes.Get(ctx, nodeTarget(n))
	if err != nil {
		var te *transport.Error
		if a.Metrics != nil && errors.As(err, &te) {
			a.Metrics.DialFailed(string(te.Kind))
		}
		return nil, deliveryError(err)
	}
	return c, nil
}

// nodeTarget is how the transport reaches n.
func nodeTarget(n node.Node) transport.Target {
	return transport.Target{
		NodeID: n.ID, Address: n.Address, Port: n.Port, User: n.User,
		Kind: n.Transport, HostKey: n.HostKey, Credential: n.Credential,
		HTTP: n.WinRMHTTP, InsecureHTTP: n.WinRMInsecureHTTP,
	}
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
