// Package devserver runs a complete Temporal server and its Web UI inside the
// calling process. It is the server behind `stead dev` and the real Temporal
// server that integration tests across Stead start, so both exercise the
// same persistence, visibility and search attributes as a deployment would.
//
// State lives in one SQLite file, DataDir/temporal.db, created with its
// schema on the first start and reused after, so nodes, associations and
// their histories survive a restart. A lock file next to it keeps a second
// server (in this process or another) off the same directory until Stop.
//
// Start creates the namespace if it is missing, with a 30-day retention, and
// registers the search attributes it is given (normally contract.SearchAttributes()).
// SQLite visibility allows 10 Keyword and 3 KeywordList custom attributes
// per namespace; Start reports a plan that exceeds them.
//
// The Web UI answers on its port through a guard (package hostguard): only
// requests addressed to the server by its own names (localhost, loopback
// and the configured IP) and, when they carry an Origin, sent from its own
// pages, reach it, so a web page using DNS rebinding cannot read or drive
// it. The UI itself listens on a loopback port behind the guard, and its
// write actions (start, signal, cancel, terminate, reset) are off unless
// Config.UIWrite.
//
// Only the frontend gRPC port and the Web UI port face the user. The
// history, matching and worker services listen on free loopback ports picked
// at each start and know each other through a fixed single-node membership,
// so there is no gossip and no metrics or profiling listener. Dynamic config
// is tuned for one node: one partition per task queue (more stall dispatch
// for seconds), rate limits high enough for about a thousand concurrent
// workflows and for visibility queries, and search attributes usable as soon
// as they are registered.
//
// Server logs go to Config.Logger at warn and above unless Config.LogLevel
// says otherwise; shutdown chatter below error is dropped. Where the server
// would end the process on a fatal setting, Start returns an error instead.
//
// Limits: the server's SQLite plugin keeps one connection per database open
// for the life of the process, so Stop releases the lock and the ports but
// not that connection; starting again on the same DataDir in the same
// process reuses it. Writes go through that single connection, which bounds
// throughput. The Web UI ends the process if its port is taken between
// Start's last check and the UI's bind, a window of microseconds. On systems
// without flock (Windows) the data directory is not locked.
package devserver
