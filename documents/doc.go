// Package documents is Stead's model of SSM Command documents (schemaVersion 1.2, 2.0 and
// 2.2): the "what to run" half of an association.
//
// It exists so that every part of Stead agrees on one reading of a document: the CLI
// checks a document before it is stored, the workflows record exactly what will run, and
// the activities run that record on each target without interpreting the document again.
//
// The life of a document is:
//
//   - Parse reads JSON or YAML content into a Document, refusing malformed or oversized
//     input and keys SSM does not accept. A 1.2 runtimeConfig is read as the steps it
//     stands for, so that every schema yields the same model.
//   - Validate reports every problem of the document at once (unsupported plugins, bad
//     preconditions, bad parameter declarations, ...); Check does both stages together,
//     in one bounded *ValidationError, and returns the warnings of a valid document:
//     what Stead runs differently from SSM, with what to write instead.
//   - Render resolves the caller's parameter values against the declarations and turns each
//     step into a PlanStep: a shell, a script body and the environment the script needs.
//
// Parameter values never become shell code unless the document says they are code: a
// placeholder that makes up a whole runCommand element of a String or StringList parameter
// supplies script lines (the contract of a "commands" parameter). Every other placeholder
// in a script is replaced by a reference to an environment variable SSM_<name>, written so
// that the script means what SSM's textual substitution means for it wherever that holds
// without parsing the value: split into words where it is unquoted (a command name stays
// one word), a user's home after ~, the variable the value names after $, expanded inside
// quoted here-documents and single-quoted strings. The value travels in PlanStep.Env.
//
// RenderWith also expands aws:runDocument steps into the plan through a Resolver (the
// registry of documents lives in Temporal; this package only reads what it is given), and
// turns aws:downloadContent steps into a Download the worker carries out.
//
// Built-in documents (Stead-RunShellScript, Stead-RunPowerShellScript, Stead-RunDocument,
// Stead-DownloadContent) are embedded from this directory's *.yaml files and are reachable
// under their SSM (AWS-) names as well; the two script documents are written as SSM
// writes AWS-RunShellScript and AWS-RunPowerShellScript (schema 1.2, the same parameters).
package documents
