package contract

import "time"

// NodeMatched is the SignalNodeMatched payload: the node and when it
// changed, so that a run for it can tell whether an execution already
// reached it since.
type NodeMatched struct {
	NodeID string    `json:"nodeId"`
	At     time.Time `json:"at"`
}

// DocumentChanged is the SignalDocumentChanged payload: which of a
// document's selectors now resolve to another version.
type DocumentChanged struct {
	Document string `json:"document"`
	// Default: the default version changed ($DEFAULT and the bare name).
	Default bool `json:"default,omitempty"`
	// Latest: a new version was added ($LATEST).
	Latest bool `json:"latest,omitempty"`
	// Version is the version the changed selectors now resolve to.
	Version int `json:"version"`
}

// ComplianceRecord is the SignalCompliance payload and a node's compliance
// with one association: COMPLIANT when the association's last run on the
// node succeeded.
//
// A run reports a node's compliance only when it changes it (a run that
// leaves a compliant node compliant writes nothing to the node), so
// ExecutionID and At name the run that brought the node to its status:
// "compliant since". Every run that reached the node is in its history
// (`stead node history`).
type ComplianceRecord struct {
	Association string    `json:"association"`
	Status      string    `json:"status"`
	Severity    string    `json:"severity"`
	ExecutionID string    `json:"executionId"`
	At          time.Time `json:"at"`
}
