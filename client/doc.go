// Package client is every operation a user performs on Stead — nodes,
// documents, associations and their executions, compliance — over one
// connection to Temporal, for any front end: the stead CLI is flags and
// printing over it, and an API or a web console would be the same.
//
// It checks input with the same functions the workflows check it with
// (workflows.AssociationSpec.Validate, node.Node.Validate,
// workflows.CheckDocumentContent, docref.Check), so a user learns every
// problem before anything is sent, and a request that reaches a workflow
// anyway is refused there with the same message. Its errors are typed:
// errors.Is(err, ErrNotFound), ErrConflict, ErrInvalid, and errors.As with
// *InvalidError for the list of problems. They are found from Temporal's
// own errors (service errors, the failure types of contract), never from
// message text.
//
// What changes asynchronously (visibility listings) it waits for before it
// returns, so the next operation sees the change; what runs (an execution)
// it follows with long polls of the execution's history.
package client
