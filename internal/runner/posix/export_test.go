package posix

import "time"

// SetHeartbeatInterval shortens the heartbeat interval for a test.
func SetHeartbeatInterval(d time.Duration) func() {
	old := heartbeatInterval
	heartbeatInterval = d
	return func() { heartbeatInterval = old }
}
