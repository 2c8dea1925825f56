package posix

import "time"

// SetHeartbeatInterval shortens the heartbeat interval for a test.
func SetHeartbeatInterval(d time.Duration) func() {
	old := heartbeatInterval
	heartbeatInterval = d
	return func() { heartbeatInterval = old }
}

// SetToday fixes the day the runner names for pruning, for a test.
func SetToday(day string) func() {
	old := today
	today = func() string { return day }
	return func() { today = old }
}
