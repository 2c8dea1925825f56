package events

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Source is the source of every event Stead publishes, where EventBridge's
// State Manager events say aws.ssm.
const Source = "stead"

// Detail types: what an event reports, EventBridge's detail-type.
const (
	// DetailAssociation is an association whose status changed, after an
	// execution of it ended.
	DetailAssociation = "Stead Association State Change"
	// DetailExecution is an execution that started or ended.
	DetailExecution = "Stead Association Execution State Change"
	// DetailNodeAssociation is a node of an execution that started or
	// ended, EventBridge's instance association state change.
	DetailNodeAssociation = "Stead Node Association State Change"
	// DetailCompliance is a node's compliance with an association, as an
	// execution left it.
	DetailCompliance = "Stead Configuration Compliance State Change"
	// DetailNode is a node that was registered or whose spec changed.
	DetailNode = "Stead Node State Change"
)

// Event is one state change, in EventBridge's envelope.
type Event struct {
	Version    string `json:"version"`
	ID         string `json:"id"`
	DetailType string `json:"detail-type"`
	Source     string `json:"source"`
	// Account is the Temporal namespace the change happened in.
	Account   string    `json:"account"`
	Time      time.Time `json:"time"`
	Region    string    `json:"region"`
	Resources []string  `json:"resources"`
	Detail    Detail    `json:"detail"`
}

// Detail is what changed. Fields that do not apply to an event's kind are
// left out.
type Detail struct {
	// AssociationID is the association's workflow id; AssociationName its name.
	AssociationID      string `json:"association-id,omitempty"`
	AssociationName    string `json:"association-name,omitempty"`
	AssociationVersion int    `json:"association-version,omitempty"`
	ExecutionID        string `json:"execution-id,omitempty"`
	// Reason is why the execution ran (Create, Schedule, NewNode, ...).
	Reason          string `json:"reason,omitempty"`
	DocumentName    string `json:"document-name,omitempty"`
	DocumentVersion string `json:"document-version,omitempty"`
	NodeID          string `json:"node-id,omitempty"`
	// Status is the association's, execution's or node's status (SSM's
	// names: InProgress, Success, Failed, ...); for a node event,
	// Registered or Updated.
	Status         string `json:"status,omitempty"`
	DetailedStatus string `json:"detailed-status,omitempty"`
	// ExitCode is a node's last step's exit code.
	ExitCode *int `json:"exit-code,omitempty"`
	// ExecutionSummary counts an execution's nodes by status.
	ExecutionSummary map[string]int `json:"execution-summary,omitempty"`
	// ComplianceStatus (COMPLIANT, NON_COMPLIANT) and Severity are a
	// compliance event's.
	ComplianceStatus string `json:"compliance-status,omitempty"`
	Severity         string `json:"severity,omitempty"`
	// Tags are a node event's node tags.
	Tags map[string]string `json:"tags,omitempty"`
}

// New makes an event of a kind. Its id derives from the kind and key, and
// from nothing else: the same change reported twice has the same id.
func New(detailType string, at time.Time, key []string, resources []string, d Detail) Event {
	return Event{
		Version:    "0",
		ID:         StableID(append([]string{detailType}, key...)...),
		DetailType: detailType,
		Source:     Source,
		Time:       at.UTC(),
		Resources:  resources,
		Detail:     d,
	}
}

// StableID is a UUID-shaped id (version 8, RFC 9562) hashed from parts:
// equal parts, equal id.
func StableID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
