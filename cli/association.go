package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/client"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/ratecontrol"
	"github.com/stead-io/stead/internal/schedule"
	"github.com/stead-io/stead/internal/targets"
	"github.com/stead-io/stead/workflows"
)

// specFlags are the flags that define an association, on create and update.
func specFlags() []ucli.Flag {
	return append(parameterFlags(),
		&ucli.StringFlag{Name: "document", Usage: "document to run: NAME or NAME:VERSION (a number, $LATEST or $DEFAULT; a bare NAME runs the default version of each execution's start), e.g. Stead-RunShellScript"},
		&ucli.StringSliceFlag{Name: "targets", Usage: "Key=tag:NAME,Values=a,b or Key=InstanceIds,Values=id1,id2|* (repeatable; AND'ed)"},
		&ucli.StringFlag{Name: "schedule", Usage: "cron(...), rate(...) or at(...); none runs only at create and on demand"},
		&ucli.IntFlag{Name: "schedule-offset", Usage: "days (1-6) to delay each cron run by, as SSM's ScheduleOffset"},
		&ucli.BoolFlag{Name: "apply-only-at-cron-interval", Usage: "do not run at create or update, only on the schedule"},
		&ucli.StringFlag{Name: "max-concurrency", Usage: "targets running at once: N or N%", Value: "50"},
		&ucli.StringFlag{Name: "max-errors", Usage: "failed targets tolerated before the run stops dispatching: N or N%", Value: "0"},
		&ucli.StringFlag{Name: "compliance-severity", Usage: "CRITICAL, HIGH, MEDIUM, LOW or UNSPECIFIED", Value: "UNSPECIFIED"},
	)
}

func associationCommand() *ucli.Command {
	waitFlag := &ucli.BoolFlag{Name: "wait", Usage: "follow the execution and exit 0 only if every target succeeded"}
	dryRunFlag := &ucli.BoolFlag{Name: "dry-run", Usage: "change nothing: resolve the targets now, show the rate-control plan and the script each step runs per platform"}
	return &ucli.Command{
		Name:    "association",
		Aliases: []string{"assoc"},
		Usage:   "bind documents to targets on a schedule",
		Subcommands: []*ucli.Command{
			{
				Name:  "create",
				Usage: "create an association; it runs at once, then on its schedule",
				Flags: append(append([]ucli.Flag{
					&ucli.StringFlag{Name: "name", Usage: "association name", Required: true},
				}, specFlags()...), append([]ucli.Flag{waitFlag, dryRunFlag, followOutputFlag}, connectFlags()...)...),
				Action: associationCreate,
			},
			{
				Name:      "update",
				Usage:     "change an association (a new version); a change of what runs or where runs it at once",
				ArgsUsage: "NAME",
				Flags: append(append([]ucli.Flag{
					&ucli.IntFlag{Name: "association-version", Usage: "fail unless the association is at this version"},
				}, specFlags()...), append([]ucli.Flag{waitFlag, dryRunFlag, followOutputFlag}, connectFlags()...)...),
				Action: associationUpdate,
			},
			{
				Name:      "versions",
				Usage:     "list an association's versions",
				ArgsUsage: "NAME",
				Flags:     append(connectFlags(), outputFlag),
				Action:    associationVersions,
			},
			{
				Name:   "list",
				Usage:  "list associations",
				Flags:  append(connectFlags(), outputFlag),
				Action: associationList,
			},
			{
				Name:      "describe",
				Usage:     "show an association",
				ArgsUsage: "NAME",
				Flags:     append(connectFlags(), outputFlag),
				Action:    associationDescribe,
			},
			{
				Name:      "delete",
				Usage:     "delete an association, cancelling a running execution",
				ArgsUsage: "NAME",
				Flags:     connectFlags(),
				Action:    associationDelete,
			},
			{
				Name:      "start",
				Usage:     "run an association now",
				ArgsUsage: "NAME",
				Flags:     append([]ucli.Flag{waitFlag, followOutputFlag}, connectFlags()...),
				Action:    associationStart,
			},
			{
				Name:      "executions",
				Usage:     "list an association's executions",
				ArgsUsage: "NAME",
				Flags:     append(connectFlags(), outputFlag),
				Action:    associationExecutions,
			},
			{
				Name:      "targets",
				Usage:     "show each target of an execution with its output",
				ArgsUsage: "NAME",
				Flags: append([]ucli.Flag{
					&ucli.StringFlag{Name: "execution", Usage: "execution id (see association executions); default: the latest"},
				}, append(connectFlags(), outputFlag)...),
				Action: associationTargets,
			},
			associationOutputCommand(),
			associationStopCommand(),
			associationResumeCommand(),
			associationCancelCommand(),
		},
	}
}

// followOutputFlag says how --wait reports: a bar on a terminal, else
// lines (table), or JSON lines (json).
var followOutputFlag = &ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "with --wait: table (a live bar on a terminal, lines otherwise) or json (one JSON object per change on stderr, the result on stdout)", Value: "table"}

// specFromFlags builds an association spec from the flags: from the flags
// alone on create, from base and the flags given on update. It checks the
// spec as the client and the workflow will (Validate), with the flags'
// own syntax problems in their fields' places: every problem at once,
// nothing remote.
func specFromFlags(c *ucli.Context, base workflows.AssociationSpec, create bool) (workflows.AssociationSpec, error) {
	spec := base
	parsed := map[string][]error{}
	given := func(name string) bool { return create || c.IsSet(name) }
	if given("targets") {
		spec.Targets = nil
		for _, t := range c.StringSlice("targets") {
			tg, err := targets.Parse(t)
			if err != nil {
				parsed[workflows.FieldTargets] = append(parsed[workflows.FieldTargets], err)
				continue
			}
			spec.Targets = append(spec.Targets, tg)
		}
	}
	if create || parametersGiven(c) {
		params, err := parseParameters(c)
		if err != nil {
			parsed[workflows.FieldParameters] = []error{err}
		}
		spec.Parameters = params
	}
	if given("document") {
		spec.Document = c.String("document")
	}
	if given("schedule") || c.IsSet("schedule-offset") {
		expr, _ := spec.Schedule.Text()
		if given("schedule") {
			expr = c.String("schedule")
		}
		spec.Schedule = schedule.FromText(expr, c.Int("schedule-offset"))
	}
	if given("apply-only-at-cron-interval") {
		spec.ApplyOnlyAtCronInterval = c.Bool("apply-only-at-cron-interval")
	}
	if given("max-concurrency") {
		spec.MaxConcurrency = ratecontrol.FromText(c.String("max-concurrency"))
	}
	if given("max-errors") {
		spec.MaxErrors = ratecontrol.FromText(c.String("max-errors"))
	}
	if given("compliance-severity") {
		spec.ComplianceSeverity = c.String("compliance-severity")
	}
	return spec, spec.ValidateParsed(parsed)
}

func associationCreate(c *ucli.Context) error {
	spec, err := specFromFlags(c, workflows.AssociationSpec{Name: c.String("name")}, true)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	if c.Bool("dry-run") {
		return dryRun(c, cl, spec)
	}
	created, err := cl.CreateAssociation(c.Context, spec)
	if err != nil {
		return err
	}
	if created.ExecutionID == "" {
		fmt.Fprintf(c.App.Writer, "association %s created; it runs on its schedule %s\n", spec.Name, created.Spec.Schedule)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "association %s created; execution %s started\n", spec.Name, created.ExecutionID)
	if c.Bool("wait") {
		return follow(c, cl, spec.Name, created.ExecutionID)
	}
	return nil
}

func associationUpdate(c *ucli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	cur, err := cl.Association(c.Context, name)
	if err != nil {
		return err
	}
	spec, err := specFromFlags(c, cur.Spec, false)
	if err != nil {
		return err
	}
	if c.Bool("dry-run") {
		return dryRun(c, cl, spec)
	}
	up, err := cl.UpdateAssociation(c.Context, spec, c.Int("association-version"))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "association %s updated to version %d\n", name, up.State.Version)
	if up.ExecutionID == "" {
		return nil
	}
	fmt.Fprintf(c.App.Writer, "association %s: execution %s queued\n", name, up.ExecutionID)
	if c.Bool("wait") {
		return follow(c, cl, name, up.ExecutionID)
	}
	return nil
}

func associationVersions(c *ucli.Context) error {
	name, p, cl, err := openNamed(c, "NAME")
	if err != nil {
		return err
	}
	defer cl.Close()
	st, err := cl.DescribeAssociation(c.Context, name)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(st.Versions)
	}
	rows := make([][]string, 0, len(st.Versions))
	for _, v := range st.Versions {
		rows = append(rows, []string{fmt.Sprint(v.Version), when(v.At), v.By, v.Spec.Document, v.Spec.Schedule.String(), targetsText(v.Spec.Targets)})
	}
	return p.table([]string{"VERSION", "AT", "BY", "DOCUMENT", "SCHEDULE", "TARGETS"}, rows)
}

// targetsText is targets as the flags give them, AND'ed.
func targetsText(ts []targets.Target) string {
	var tg []string
	for _, t := range ts {
		tg = append(tg, t.String())
	}
	return strings.Join(tg, " AND ")
}

func associationStart(c *ucli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	execID, err := cl.StartAssociation(c.Context, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "association %s: execution %s queued\n", name, execID)
	if c.Bool("wait") {
		return follow(c, cl, name, execID)
	}
	return nil
}

func associationDelete(c *ucli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	if err := cl.DeleteAssociation(c.Context, name); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "association %s deleted\n", name)
	return nil
}

func associationList(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	rows, err := cl.Associations(c.Context)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(rows)
	}
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, []string{r.Name, r.Document, r.Status})
	}
	return p.table([]string{"NAME", "DOCUMENT", "STATUS"}, out)
}

func associationDescribe(c *ucli.Context) error {
	name, p, cl, err := openNamed(c, "NAME")
	if err != nil {
		return err
	}
	defer cl.Close()
	st, err := cl.DescribeAssociation(c.Context, name)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(st)
	}
	last := "-"
	if n := len(st.Executions); n > 0 {
		last = st.Executions[n-1].ExecutionID
	}
	running := "-"
	if st.Running != nil {
		running = st.Running.ExecutionID
	}
	sched := st.Spec.Schedule.String()
	if sched == "" {
		sched = "none (runs at create and on `association start`)"
	}
	return p.fields([][2]string{
		{"Name", st.Spec.Name}, {"Document", st.Spec.Document}, {"Targets", targetsText(st.Spec.Targets)},
		{"Schedule", sched}, {"Next run", when(st.NextRunAt)},
		{"Max concurrency", st.Spec.MaxConcurrency.String()}, {"Max errors", st.Spec.MaxErrors.String()},
		{"Version", fmt.Sprint(st.Version)}, {"Created", when(st.CreatedAt) + " by " + st.CreatedBy},
		{"Status", st.Status}, {"Detail", st.DetailedStatus},
		{"Running execution", running}, {"Last execution", last},
	})
}

func associationExecutions(c *ucli.Context) error {
	name, p, cl, err := openNamed(c, "NAME")
	if err != nil {
		return err
	}
	defer cl.Close()
	recs, err := cl.Executions(c.Context, name)
	if err != nil {
		return err
	}
	return list(p, recs, []string{"EXECUTION", "REASON", "STATUS", "SUCCEEDED", "STARTED", "ENDED", "DETAIL"}, func(i int) []string {
		r := recs[i]
		return []string{r.ExecutionID, r.Reason, r.Status, fmt.Sprintf("%d/%d", r.Counts.Success, r.Counts.Total), when(r.StartedAt), when(r.EndedAt), r.DetailedStatus}
	})
}

// follow prints an execution's progress until it ends, then its targets;
// it fails unless every target succeeded.
func follow(c *ucli.Context, cl *client.Client, name, execID string) error {
	view := newProgressView(c, cl, name, execID)
	res, err := cl.Follow(c.Context, name, execID, view.show)
	view.finish()
	if err != nil {
		return err
	}
	ts, complete, err := cl.Outcome(c.Context, name, res)
	if err != nil {
		return err
	}
	if c.String("output") == "json" {
		if err := json.NewEncoder(c.App.Writer).Encode(struct {
			ExecutionID string                    `json:"executionId"`
			Result      workflows.ExecutionResult `json:"result"`
			Targets     []contract.TargetSummary  `json:"targets"`
			Complete    bool                      `json:"complete"`
		}{execID, res, ts, complete}); err != nil {
			return err
		}
		if res.Status != contract.StatusSuccess {
			return fmt.Errorf("execution %s %s: %s", execID, res.Status, res.DetailedStatus)
		}
		return nil
	}
	if !complete && len(ts) > 0 {
		fmt.Fprintf(c.App.Writer, "targets that did not succeed (first %d; see `association targets`):\n", len(ts))
	}
	if complete || len(ts) > 0 {
		if err := printTargetSummaries(c, ts); err != nil {
			return err
		}
	}
	if res.Status != contract.StatusSuccess {
		return fmt.Errorf("execution %s %s: %s", execID, res.Status, res.DetailedStatus)
	}
	fmt.Fprintf(c.App.Writer, "execution %s succeeded: %s\n", execID, res.DetailedStatus)
	return nil
}

func printTargetSummaries(c *ucli.Context, ts []contract.TargetSummary) error {
	rows := make([][]string, 0, len(ts))
	for _, t := range ts {
		rows = append(rows, []string{t.NodeID, t.Status, fmt.Sprint(t.ExitCode), when(t.StartedAt), when(t.EndedAt), t.DetailedStatus})
	}
	return (&printer{w: c.App.Writer}).table([]string{"NODE", "STATUS", "EXIT", "STARTED", "ENDED", "DETAIL"}, rows)
}

// TargetOutput is one element of `association targets --output json`: a
// target of an execution with what each step printed.
type TargetOutput = client.TargetOutput

func associationTargets(c *ucli.Context) error {
	name, p, cl, err := openNamed(c, "NAME")
	if err != nil {
		return err
	}
	defer cl.Close()
	execID := c.String("execution")
	if execID == "" {
		if execID, err = cl.LatestExecution(c.Context, name); err != nil {
			return err
		}
	}
	res, outs, err := cl.TargetOutputs(c.Context, name, execID)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(outs)
	}
	fmt.Fprintf(c.App.Writer, "execution %s: %s %s\n\n", execID, res.Status, res.DetailedStatus)
	ts := make([]contract.TargetSummary, len(outs))
	for i, o := range outs {
		ts[i] = o.TargetSummary
	}
	if err := printTargetSummaries(c, ts); err != nil {
		return err
	}
	for _, o := range outs {
		for _, step := range o.Steps {
			if step.Attempt == 0 {
				// A step that did not run (skipped, refused) says why.
				fmt.Fprintf(c.App.Writer, "\n--- %s / %s: %s", o.NodeID, step.Name, step.Status)
				if step.DetailedStatus != "" {
					fmt.Fprintf(c.App.Writer, " (%s)", step.DetailedStatus)
				}
				fmt.Fprintln(c.App.Writer)
				continue
			}
			for _, s := range append(append([]contract.StepSummary{}, step.Earlier...), step) {
				printStepOutput(c, o.NodeID, s)
			}
		}
	}
	return nil
}

// printStepOutput prints the head of one run of a step's output.
func printStepOutput(c *ucli.Context, nodeID string, s contract.StepSummary) {
	fmt.Fprintf(c.App.Writer, "\n--- %s / %s (exit %d)\n", nodeID, s.Name, s.ExitCode)
	if s.Stdout != "" {
		fmt.Fprint(c.App.Writer, ensureNewline(s.Stdout))
	}
	if s.Stderr != "" {
		fmt.Fprintf(c.App.Writer, "--- stderr\n%s", ensureNewline(s.Stderr))
	}
}

func ensureNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// dryRun prints what creating or updating with spec would do, changing
// nothing.
func dryRun(c *ucli.Context, cl *client.Client, spec workflows.AssociationSpec) error {
	p, err := cl.PreviewAssociation(c.Context, spec)
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "dry run of association %s: nothing was created, changed or run\n", spec.Name)
	ids := make([]string, 0, len(p.Nodes))
	for _, n := range p.Nodes {
		ids = append(ids, n.ID)
	}
	const listed = 20
	more := ""
	if len(ids) > listed {
		more = fmt.Sprintf(" and %d more", len(ids)-listed)
		ids = ids[:listed]
	}
	fmt.Fprintf(w, "targets: %s now (%s): %s%s\n", count(len(p.Nodes), "node"), targetsText(p.Spec.Targets), strings.Join(ids, ", "), more)
	if len(p.Nodes) > 0 {
		fmt.Fprintf(w, "rate control: %d at a time (max-concurrency %s), %s; no node starts after %s (max-errors %s)\n",
			p.Concurrency, p.Spec.MaxConcurrency, count(p.Rounds, "round"), count(p.ErrorLimit+1, "failure"), p.Spec.MaxErrors)
	}
	sched := "none: it runs at create, on update and on association start"
	if !p.Spec.Schedule.IsZero() {
		sched = p.Spec.Schedule.String() + ", next slot " + when(p.NextRunAt)
	}
	fmt.Fprintf(w, "schedule: %s\n", sched)
	for _, platform := range p.Platforms {
		fmt.Fprintln(w)
		printPlan(w, p.Plan, platform)
	}
	return nil
}
