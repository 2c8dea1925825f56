package workflows

import "github.com/stead-io/stead/contract"

// Counts tallies targets by status.
type Counts struct {
	Total            int `json:"total"`
	Pending          int `json:"pending"`
	InProgress       int `json:"inProgress"`
	Success          int `json:"success"`
	Failed           int `json:"failed"`
	TimedOut         int `json:"timedOut"`
	Cancelled        int `json:"cancelled"`
	Skipped          int `json:"skipped"`
	Undeliverable    int `json:"undeliverable"`
	DeliveryTimedOut int `json:"deliveryTimedOut"`
}

// add moves one target into (delta 1) or out of (delta -1) a status.
func (c *Counts) add(status string, delta int) {
	switch status {
	case contract.StatusPending:
		c.Pending += delta
	case contract.StatusInProgress:
		c.InProgress += delta
	case contract.StatusSuccess:
		c.Success += delta
	case contract.StatusFailed:
		c.Failed += delta
	case contract.StatusTimedOut:
		c.TimedOut += delta
	case contract.StatusCancelled:
		c.Cancelled += delta
	case contract.StatusSkipped:
		c.Skipped += delta
	case contract.StatusUndeliverable:
		c.Undeliverable += delta
	case contract.StatusDeliveryTimedOut:
		c.DeliveryTimedOut += delta
	}
}

// Errors is what counts against MaxErrors: every target that did not
// succeed, delivery failures included.
func (c Counts) Errors() int {
	return c.Failed + c.TimedOut + c.Undeliverable + c.DeliveryTimedOut
}

// Done is the number of targets that reached a final status.
func (c Counts) Done() int {
	return c.Total - c.Pending - c.InProgress
}

// byStatus is the counts by SSM status name, without the empty ones, as an
// execution event's summary.
func (c Counts) byStatus() map[string]int {
	all := []struct {
		status string
		n      int
	}{
		{contract.StatusPending, c.Pending}, {contract.StatusInProgress, c.InProgress}, {contract.StatusSuccess, c.Success},
		{contract.StatusFailed, c.Failed}, {contract.StatusTimedOut, c.TimedOut}, {contract.StatusCancelled, c.Cancelled},
		{contract.StatusSkipped, c.Skipped}, {contract.StatusUndeliverable, c.Undeliverable}, {contract.StatusDeliveryTimedOut, c.DeliveryTimedOut},
	}
	out := map[string]int{}
	for _, s := range all {
		if s.n > 0 {
			out[s.status] = s.n
		}
	}
	return out
}
