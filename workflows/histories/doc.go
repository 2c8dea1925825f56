// Package histories says where Stead's replay fixtures live and how they are
// named, and its test is the recorder that writes them.
//
// A fixture is the history of one workflow run, recorded from today's code
// running on the embedded Temporal server with a real worker, real sshd and
// the local transport, and saved as JSON in
//
//	workflows/testdata/histories/<version>/<WorkflowType>-<case>.json
//
// The workflows package replays every fixture of every version folder in its
// tests. Fixtures are only ever added: the recorder refuses to overwrite a
// file, naming it. A new case is a new file; a new version is a new folder.
//
// Record every fixture of the version in development (Version) with
//
//	make histories
//
// or only some workflow types, for instance after changing executions, with
//
//	make histories ONLY=ExecutionWorkflow,NodeWorkflow
//
// which run `go test ./workflows/histories -run TestRecordHistories -record`
// with `-record-only TYPES`; `-record-version vX.Y` records into another
// folder. Without -record the test skips: recording takes minutes and needs
// root (sshd), and it writes files, so it only runs when asked.
package histories
