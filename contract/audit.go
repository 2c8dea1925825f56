package contract

import (
	"encoding/json"
	"strconv"
	"time"
)

// The audit log: every change made to associations, documents and nodes,
// one AuditRecord each, in a hash chain. The workflow that makes a change
// reports it (through the RecordChange activity, which also redacts secret
// parameters) to the audit log's head workflow, which numbers it, chains
// it and keeps it. A full segment
// is sealed into a workflow of its own, AuditSegmentWorkflowID(n), that
// stays Running holding its records: Temporal deletes closed workflows
// after the namespace's retention, never running ones, so the log outlives
// retention while no workflow's history grows without bound.
const (
	AuditWorkflow        = "AuditWorkflow"
	AuditSegmentWorkflow = "AuditSegmentWorkflow"
	// AuditWorkflowID is the head of the audit log: the open segment.
	AuditWorkflowID = "audit"
	// SignalAuditRecord carries a change to the head; its payload is an
	// AuditRecord without sequence number and hashes.
	SignalAuditRecord = "audit-record"
	// AuditQueryRecords answers an AuditSegment: the head's open segment
	// (with Head set), or a sealed segment's records.
	AuditQueryRecords = "records"
)

// AuditSegmentWorkflowID names the n-th sealed segment of the audit log,
// from 1.
func AuditSegmentWorkflowID(n int) string { return AuditWorkflowID + "/" + strconv.Itoa(n) }

// Operations recorded in the audit log, as CloudTrail names API calls.
const (
	OpCreateAssociation  = "CreateAssociation"
	OpUpdateAssociation  = "UpdateAssociation"
	OpDeleteAssociation  = "DeleteAssociation"
	OpStartAssociation   = "StartAssociation"
	OpStopAssociation    = "StopAssociation"
	OpResumeAssociation  = "ResumeAssociation"
	OpCreateDocument     = "CreateDocument"
	OpUpdateDocument     = "UpdateDocument"
	OpSetDefaultDocument = "UpdateDocumentDefaultVersion"
	OpDeleteDocument     = "DeleteDocument"
	OpRegisterNode       = "RegisterNode"
	OpUpdateNode         = "UpdateNode"
	OpTrustNode          = "PinNodeHostKey"
	OpDeregisterNode     = "DeregisterNode"
)

// Kinds of resource an audit record names, as `audit list --resource
// KIND/NAME` selects them.
const (
	AuditResourceAssociation = "association"
	AuditResourceDocument    = "document"
	AuditResourceNode        = "node"
)

// Identity types of an audit record's UserIdentity.
const (
	// IdentityUser: the request named who sent it (user@host, and the
	// TLS client certificate's subject when there is one).
	IdentityUser = "SteadUser"
	// IdentityNone: the request named nobody (sent through the raw SDK
	// without a "by"); the record says so rather than guess.
	IdentityNone = "Unknown"
)

// AuditRecordVersion is the EventVersion of the records Stead writes.
const AuditRecordVersion = "1.0"

// AuditRecord is one change, shaped as a CloudTrail event so tools that
// read CloudTrail's JSON read it: who (UserIdentity), when (EventTime),
// from where (SourceHost), what (EventName, Resources,
// RequestParameters with secrets redacted) and the result (ErrorCode and
// ErrorMessage, empty when it succeeded). Sequence, PreviousHash and Hash
// chain the records: Hash is the SHA-256 of the record's JSON without
// Hash (internal/audit.Hash), PreviousHash that of the record before it,
// so an edit, insertion or removal shows.
type AuditRecord struct {
	EventVersion string            `json:"eventVersion"`
	EventID      string            `json:"eventID"`
	EventTime    time.Time         `json:"eventTime"`
	EventSource  string            `json:"eventSource"`
	EventName    string            `json:"eventName"`
	EventType    string            `json:"eventType"`
	UserIdentity AuditIdentity     `json:"userIdentity"`
	SourceHost   string            `json:"sourceIPAddress"`
	Resources    []AuditResource   `json:"resources"`
	Request      json.RawMessage   `json:"requestParameters,omitempty"`
	Response     json.RawMessage   `json:"responseElements,omitempty"`
	ErrorCode    string            `json:"errorCode,omitempty"`
	ErrorMessage string            `json:"errorMessage,omitempty"`
	RequestID    string            `json:"requestID"`
	Account      string            `json:"recipientAccountId"`
	Sequence     int64             `json:"sequenceNumber"`
	PreviousHash string            `json:"previousHash"`
	Hash         string            `json:"hash"`
	Extra        map[string]string `json:"additionalEventData,omitempty"`
}

// AuditIdentity is who made a change, as the request named them.
type AuditIdentity struct {
	Type string `json:"type"`
	// PrincipalID is the identity exactly as the request gave it.
	PrincipalID string `json:"principalId"`
	UserName    string `json:"userName,omitempty"`
	// CertificateSubject is the subject of the TLS client certificate
	// the client connected with.
	CertificateSubject string `json:"certificateSubject,omitempty"`
}

// AuditResource is what a change was made to: its kind and name.
type AuditResource struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// AuditSegment is a segment of the audit log, oldest record first.
type AuditSegment struct {
	// Number is the segment's number, from 1.
	Number  int           `json:"number"`
	Records []AuditRecord `json:"records"`
	// Head: this is the open segment, held by the head; the segments
	// 1..Number-1 are sealed.
	Head bool `json:"head,omitempty"`
}
