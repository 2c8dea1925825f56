package client

import (
	"context"
	"time"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/namespace"
)

// NamespaceReport says what SetupNamespace found and did.
type NamespaceReport = namespace.Report

// SetupNamespace creates the connection's namespace if it is missing and
// registers every Stead search attribute it lacks, so workers and the CLI
// can run against any Temporal server. A positive retention is set on the
// namespace; zero keeps an existing namespace's and gives a new one
// namespace.DefaultRetention. Running it again changes nothing.
func (c *Client) SetupNamespace(ctx context.Context, retention time.Duration) (NamespaceReport, error) {
	cn, err := c.connect(ctx)
	if err != nil {
		return NamespaceReport{}, err
	}
	return namespace.Setup(ctx, cn.Temporal.WorkflowService(), cn.Temporal.OperatorService(), namespace.Spec{
		Name:             cn.Namespace,
		Retention:        retention,
		SearchAttributes: contract.SearchAttributes(),
	})
}
