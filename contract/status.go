package contract

// Statuses of executions, nodes and steps, named as SSM names them. They
// are the values of the SteadStatus search attribute.
const (
	StatusPending          = "Pending"
	StatusInProgress       = "InProgress"
	StatusSuccess          = "Success"
	StatusFailed           = "Failed"
	StatusTimedOut         = "TimedOut"
	StatusCancelled        = "Cancelled"
	StatusSkipped          = "Skipped"
	StatusUndeliverable    = "Undeliverable"
	StatusDeliveryTimedOut = "DeliveryTimedOut"
	// StatusPaused is an association stopped by `association stop`; it is
	// no status of an execution.
	StatusPaused = "Paused"
)

// Compliance statuses of a node for an association, as SSM reports them.
const (
	Compliant    = "COMPLIANT"
	NonCompliant = "NON_COMPLIANT"
)
