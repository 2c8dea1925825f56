package client

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/audit"
)

// AuditFilter selects records of the audit log; its zero value selects
// every one.
type AuditFilter struct {
	// Since keeps the records of changes at or after it.
	Since time.Time
	// ResourceType and ResourceName keep the records of one resource
	// (contract.AuditResourceAssociation, ... and its name); a type
	// without a name keeps every resource of the type.
	ResourceType, ResourceName string
}

// AuditResourceTypes are the kinds of resource a filter can name.
var AuditResourceTypes = []string{contract.AuditResourceAssociation, contract.AuditResourceDocument, contract.AuditResourceNode}

// keeps reports whether f selects r.
func (f AuditFilter) keeps(r contract.AuditRecord) bool {
	if !f.Since.IsZero() && r.EventTime.Before(f.Since) {
		return false
	}
	if f.ResourceType == "" {
		return true
	}
	return slices.ContainsFunc(r.Resources, func(res contract.AuditResource) bool {
		return res.Type == f.ResourceType && (f.ResourceName == "" || res.Name == f.ResourceName)
	})
}

// AuditRecords lists the audit log's records that f selects, oldest first.
// It reads the segments from the newest back, and stops at the first that
// begins before f.Since. A log nobody wrote to yet is empty.
func (c *Client) AuditRecords(ctx context.Context, f AuditFilter) ([]contract.AuditRecord, error) {
	if f.ResourceType != "" && !slices.Contains(AuditResourceTypes, f.ResourceType) {
		return nil, invalid(fmt.Errorf("resource kind %q: want one of %v", f.ResourceType, AuditResourceTypes))
	}
	all, err := c.auditLog(ctx, f.Since)
	if err != nil {
		return nil, err
	}
	out := make([]contract.AuditRecord, 0, len(all))
	for _, r := range all {
		if f.keeps(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// VerifyAuditLog reads the whole audit log and checks its chain from the
// first record (audit.Verify). It returns how many records it checked; a
// broken chain is an *audit.BrokenError naming the first broken record.
func (c *Client) VerifyAuditLog(ctx context.Context) (int, error) {
	all, err := c.auditLog(ctx, time.Time{})
	if err != nil {
		return 0, err
	}
	return len(all), audit.Verify(all, false)
}

// auditLog reads the log's segments, newest first, until one begins
// before since (all of them for a zero since), and returns their records
// oldest first.
func (c *Client) auditLog(ctx context.Context, since time.Time) ([]contract.AuditRecord, error) {
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	head, err := querySegment(ctx, cn, contract.AuditWorkflowID)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	segments := [][]contract.AuditRecord{head.Records}
	begins := func(recs []contract.AuditRecord) bool {
		return !since.IsZero() && len(recs) > 0 && recs[0].EventTime.Before(since)
	}
	for n := head.Number - 1; n >= 1 && !begins(segments[len(segments)-1]); n-- {
		seg, err := querySegment(ctx, cn, contract.AuditSegmentWorkflowID(n))
		if err != nil {
			// A sealed segment that is gone is a break in the chain for
			// verify to name; a listing goes on without it.
			if isNotFound(err) {
				continue
			}
			return nil, err
		}
		segments = append(segments, seg.Records)
	}
	var out []contract.AuditRecord
	for i := len(segments) - 1; i >= 0; i-- {
		out = append(out, segments[i]...)
	}
	return out, nil
}

// querySegment asks a segment of the audit log (the head or a sealed
// one) for its records.
func querySegment(ctx context.Context, cn *Connection, workflowID string) (contract.AuditSegment, error) {
	var seg contract.AuditSegment
	v, err := cn.Temporal.QueryWorkflow(ctx, workflowID, "", contract.AuditQueryRecords)
	if err == nil {
		err = v.Get(&seg)
	}
	if err != nil && !isNotFound(err) {
		return seg, fmt.Errorf("read audit log %s: %w", workflowID, err)
	}
	return seg, err
}
