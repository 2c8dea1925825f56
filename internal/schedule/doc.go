// Package schedule parses and evaluates association schedule expressions the
// way AWS Systems Manager State Manager accepts them: cron(...), rate(...) and
// at(...), all in UTC, plus the cron-only schedule offset of 1 to 6 days.
//
// Association workflows ask a Schedule for their next run from inside
// Temporal workflow code, so evaluation is a pure function of its inputs: no
// clock, no randomness, no shared state. A Schedule serialises to JSON as its
// expression string so it can sit in workflow state and survive
// continue-as-new.
//
// Cron expressions are validated here, field by field, with SSM's rules (six
// fields, or seven with a leading seconds field of 0; day-of-week 1-7 is
// SUN-SAT; exactly one day field is ?) and rewritten into the seven-field
// form of github.com/adhocore/gronx, which computes the fire times. The
// rewrite expands every list, range and step into plain numbers (runs of
// years into plain ranges) so that gronx's own readings of steps, ranges and
// Sunday never come into play, and it pins gronx's bounded search to single
// years when gronx gives up on a sparse expression.
package schedule
