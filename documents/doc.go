// Package documents is Stead's model of SSM Command documents (schemaVersion 2.2): the
// "what to run" half of an association.
//
// It exists so that every part of Stead agrees on one reading of a document: the CLI
// checks a document before it is stored, the workflows record exactly what will run, and
// the activities run that record on each target without interpreting the document again.
//
// The life of a document is:
//
//   - Parse reads JSON or YAML content into a Document, refusing malformed or oversized input.
//   - Validate reports every problem of the document at once (unknown keys, unsupported
//     plugins, bad preconditions, bad parameter declarations, ...).
//   - Render resolves the caller's parameter values against the declarations and turns each
//     step into a PlanStep: a shell, a script body and the environment the script needs.
//
// Parameter values never become shell code unless the document says they are code: a
// placeholder that makes up a whole runCommand element of a String or StringList parameter
// supplies script lines (the contract of a "commands" parameter). Every other placeholder
// in a script is replaced by a reference to an environment variable SSM_<name>, quoted for
// the place it stands, and the value travels in PlanStep.Env.
//
// RenderWith also expands aws:runDocument steps into the plan through a Resolver (the
// registry of documents lives in Temporal; this package only reads what it is given), and
// turns aws:downloadContent steps into a Download the worker carries out.
//
// Built-in documents (Stead-RunShellScript, Stead-RunPowerShellScript, Stead-RunDocument,
// Stead-DownloadContent) are embedded from this directory's *.yaml files and are reachable
// under their SSM (AWS-) names as well.
package documents
