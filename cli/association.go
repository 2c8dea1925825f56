package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/internal/ratecontrol"
	"github.com/stead-io/stead/internal/schedule"
	"github.com/stead-io/stead/internal/targets"
	"github.com/stead-io/stead/workflows"
)

// specFlags are the flags that define an association, on create and update.
func specFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "document", Usage: "document to run: NAME or NAME:VERSION (a number, $LATEST or $DEFAULT; a bare NAME runs the default version of each execution's start), e.g. Stead-RunShellScript"},
		&ucli.StringSliceFlag{Name: "targets", Usage: "Key=tag:NAME,Values=a,b or Key=InstanceIds,Values=id1,id2|* (repeatable; AND'ed)"},
		&ucli.StringSliceFlag{Name: "parameters", Usage: `document parameters as JSON ('{"commands":["uname -a"]}') or key=value (repeatable)`},
		&ucli.StringFlag{Name: "schedule", Usage: "cron(...), rate(...) or at(...); none runs only at create and on demand"},
		&ucli.IntFlag{Name: "schedule-offset", Usage: "days (1-6) to delay each cron run by, as SSM's ScheduleOffset"},
		&ucli.BoolFlag{Name: "apply-only-at-cron-interval", Usage: "do not run at create or update, only on the schedule"},
		&ucli.StringFlag{Name: "max-concurrency", Usage: "targets running at once: N or N%", Value: "50"},
		&ucli.StringFlag{Name: "max-errors", Usage: "failed targets tolerated before the run stops dispatching: N or N%", Value: "0"},
		&ucli.StringFlag{Name: "compliance-severity", Usage: "CRITICAL, HIGH, MEDIUM, LOW or UNSPECIFIED", Value: "UNSPECIFIED"},
	}
}

func associationCommand() *ucli.Command {
	waitFlag := &ucli.BoolFlag{Name: "wait", Usage: "follow the execution and exit 0 only if every target succeeded"}
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
				}, specFlags()...), append([]ucli.Flag{waitFlag}, connectFlags()...)...),
				Action: associationCreate,
			},
			{
				Name:      "update",
				Usage:     "change an association (a new version); a change of what runs or where runs it at once",
				ArgsUsage: "NAME",
				Flags: append(append([]ucli.Flag{
					&ucli.IntFlag{Name: "association-version", Usage: "fail unless the association is at this version"},
				}, specFlags()...), append([]ucli.Flag{waitFlag}, connectFlags()...)...),
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
				Flags:     append([]ucli.Flag{waitFlag}, connectFlags()...),
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
					&ucli.StringFlag{Name: "execution", Usage: "execution id (see `association executions`); default: the latest"},
				}, append(connectFlags(), outputFlag)...),
				Action: associationTargets,
			},
			associationOutputCommand(),
		},
	}
}

// specFromFlags builds and validates an association spec: from the flags
// alone on create, from base and the flags given on update. It returns every
// problem at once and touches nothing remote.
func specFromFlags(c *ucli.Context, base workflows.AssociationSpec, create bool) (workflows.AssociationSpec, error) {
	var errs []error
	spec := base
	given := func(name string) bool { return create || c.IsSet(name) }
	if err := workflows.ValidAssociationName(spec.Name); err != nil {
		errs = append(errs, err)
	}
	if given("targets") {
		spec.Targets = nil
		for _, t := range c.StringSlice("targets") {
			tg, err := targets.Parse(t)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			spec.Targets = append(spec.Targets, tg)
		}
	}
	if len(errs) == 0 {
		if err := targets.ValidateAll(spec.Targets); err != nil {
			errs = append(errs, err)
		}
	}
	var paramErr error
	if given("parameters") {
		spec.Parameters, paramErr = documents.ParseParameterFlags(c.StringSlice("parameters"))
		if paramErr != nil {
			errs = append(errs, paramErr)
		}
	}
	if given("document") {
		spec.Document = c.String("document")
	}
	// A built-in is checked here; a registered one once connected (associationDocument).
	if spec.Document == "" {
		errs = append(errs, errors.New("document: required (--document)"))
	} else if name, _, rerr := documents.ParseRef(spec.Document); rerr != nil {
		errs = append(errs, rerr)
	} else if canonical, content, ok := documents.Builtin(name); ok && paramErr == nil {
		if _, err := documents.Render(canonical, content, spec.Parameters); err != nil {
			errs = append(errs, fmt.Errorf("document %s: %w", canonical, err))
		}
	}
	var err error
	if given("schedule") || c.IsSet("schedule-offset") {
		expr := spec.Schedule.String()
		if given("schedule") {
			expr = c.String("schedule")
		}
		if spec.Schedule, err = schedule.Parse(expr); err != nil {
			errs = append(errs, err)
		} else if days := c.Int("schedule-offset"); days != 0 {
			if spec.Schedule, err = spec.Schedule.WithOffset(days); err != nil {
				errs = append(errs, fmt.Errorf("schedule-offset: %w", err))
			}
		}
	}
	if given("apply-only-at-cron-interval") {
		spec.ApplyOnlyAtCronInterval = c.Bool("apply-only-at-cron-interval")
		if spec.ApplyOnlyAtCronInterval && spec.Schedule.Kind() != "cron" {
			errs = append(errs, errors.New("apply-only-at-cron-interval: needs a cron(...) schedule"))
		}
	}
	if given("max-concurrency") {
		if spec.MaxConcurrency, err = ratecontrol.Parse("max-concurrency", c.String("max-concurrency"), 1); err != nil {
			errs = append(errs, err)
		}
	}
	if given("max-errors") {
		if spec.MaxErrors, err = ratecontrol.Parse("max-errors", c.String("max-errors"), 0); err != nil {
			errs = append(errs, err)
		}
	}
	if given("compliance-severity") {
		spec.ComplianceSeverity = strings.ToUpper(c.String("compliance-severity"))
		if !slices.Contains(workflows.ComplianceSeverities, spec.ComplianceSeverity) {
			errs = append(errs, fmt.Errorf("compliance-severity %q: want one of %s", c.String("compliance-severity"), strings.Join(workflows.ComplianceSeverities, ", ")))
		}
	}
	return spec, errors.Join(errs...)
}

// checkInstanceIDs fails if the targets name node ids that are not
// registered.
func checkInstanceIDs(c *ucli.Context, cn *conn, ts []targets.Target) error {
	ids := targets.InstanceIDs(ts)
	if len(ids) == 0 {
		return nil
	}
	q, err := targets.NodeQuery([]targets.Target{{Key: targets.KeyInstanceIDs, Values: ids}})
	if err != nil {
		return err
	}
	found, err := node.List(c.Context, cn.client, cn.namespace, cn.dc, q)
	if err != nil {
		return err
	}
	var missing []string
	for _, id := range ids {
		if !slices.ContainsFunc(found, func(n node.Node) bool { return n.ID == id }) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("targets name unregistered nodes: %s", strings.Join(missing, ", "))
	}
	return nil
}

func associationCreate(c *ucli.Context) error {
	spec, err := specFromFlags(c, workflows.AssociationSpec{Name: c.String("name")}, true)
	if err != nil {
		return err
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	if err := checkInstanceIDs(c, cn, spec.Targets); err != nil {
		return err
	}
	if spec.Document, err = associationDocument(c, cn, spec.Document, spec.Parameters); err != nil {
		return err
	}
	execID := uuid.NewString()
	_, err = cn.client.ExecuteWorkflow(c.Context, client.StartWorkflowOptions{
		ID:                       contract.AssociationWorkflowID(spec.Name),
		TaskQueue:                contract.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// A name is taken while its association runs.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, workflows.AssociationWorkflow, workflows.CreateAssociationInput{Spec: spec, By: cn.identity, ExecutionID: execID}, (*workflows.AssociationState)(nil))
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return fmt.Errorf("association %s already exists", spec.Name)
	}
	if err != nil {
		return fmt.Errorf("create association %s: %w", spec.Name, err)
	}
	if spec.ApplyOnlyAtCronInterval {
		fmt.Fprintf(c.App.Writer, "association %s created; it runs on its schedule %s\n", spec.Name, spec.Schedule)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "association %s created; execution %s started\n", spec.Name, execID)
	if c.Bool("wait") {
		return follow(c, cn, spec.Name, execID)
	}
	return nil
}

func associationUpdate(c *ucli.Context) error {
	name, cn, err := openArg(c, "NAME")
	if err != nil {
		return err
	}
	defer cn.client.Close()
	cur, err := describeAssociation(c, cn, name)
	if err != nil {
		return err
	}
	spec, err := specFromFlags(c, cur.Spec, false)
	if err != nil {
		return err
	}
	if err := checkInstanceIDs(c, cn, spec.Targets); err != nil {
		return err
	}
	if spec.Document, err = associationDocument(c, cn, spec.Document, spec.Parameters); err != nil {
		return err
	}
	var st workflows.AssociationState
	if err := sendUpdate(c, cn, contract.AssociationWorkflowID(name), contract.AssociationUpdateUpdate, workflows.UpdateRequest{Spec: spec, ExpectedVersion: c.Int("association-version"), By: cn.identity}, &st); err != nil {
		return notFound(err, "association "+name+" not found", "update association "+name)
	}
	fmt.Fprintf(c.App.Writer, "association %s updated to version %d\n", name, st.Version)
	for _, q := range st.Queue {
		if q.Reason == workflows.ReasonUpdate {
			fmt.Fprintf(c.App.Writer, "association %s: execution %s queued\n", name, q.ExecutionID)
			if c.Bool("wait") {
				return follow(c, cn, name, q.ExecutionID)
			}
		}
	}
	return nil
}

func associationVersions(c *ucli.Context) error {
	name, p, cn, err := openNamed(c, "NAME")
	if err != nil {
		return err
	}
	defer cn.client.Close()
	st, err := describeAssociation(c, cn, name)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(st.Versions)
	}
	rows := make([][]string, 0, len(st.Versions))
	for _, v := range st.Versions {
		var tg []string
		for _, t := range v.Spec.Targets {
			tg = append(tg, t.String())
		}
		rows = append(rows, []string{fmt.Sprint(v.Version), when(v.At), v.By, v.Spec.Document, v.Spec.Schedule.String(), strings.Join(tg, " AND ")})
	}
	return p.table([]string{"VERSION", "AT", "BY", "DOCUMENT", "SCHEDULE", "TARGETS"}, rows)
}

func associationStart(c *ucli.Context) error {
	name, cn, err := openArg(c, "NAME")
	if err != nil {
		return err
	}
	defer cn.client.Close()
	if _, err := describeAssociation(c, cn, name); err != nil {
		return err
	}
	var execID string
	if err := sendUpdate(c, cn, contract.AssociationWorkflowID(name), contract.AssociationUpdateStart, workflows.StartRequest{By: cn.identity}, &execID); err != nil {
		return notFound(err, "association "+name+" not found", "start association "+name)
	}
	fmt.Fprintf(c.App.Writer, "association %s: execution %s queued\n", name, execID)
	if c.Bool("wait") {
		return follow(c, cn, name, execID)
	}
	return nil
}

func associationDelete(c *ucli.Context) error {
	name, cn, err := openArg(c, "NAME")
	if err != nil {
		return err
	}
	defer cn.client.Close()
	if _, err := describeAssociation(c, cn, name); err != nil {
		return err
	}
	if err := sendUpdate(c, cn, contract.AssociationWorkflowID(name), contract.AssociationUpdateDelete, workflows.DeleteRequest{By: cn.identity}, nil); err != nil {
		return notFound(err, "association "+name+" not found", "delete association "+name)
	}
	// The workflow ends right after the update; wait for that, and for
	// listings to agree, so the next command sees the association gone.
	if err := cn.client.GetWorkflow(c.Context, contract.AssociationWorkflowID(name), "").Get(c.Context, nil); err != nil {
		return fmt.Errorf("delete association %s: %w", name, err)
	}
	query := fmt.Sprintf("WorkflowId = '%s' AND ExecutionStatus = 'Running'", contract.AssociationWorkflowID(name))
	deadline := time.Now().Add(visibleWithin)
	for {
		resp, err := cn.client.CountWorkflow(c.Context, &workflowservice.CountWorkflowExecutionsRequest{Namespace: cn.namespace, Query: query})
		if err != nil {
			return fmt.Errorf("delete association %s: %w", name, err)
		}
		if resp.GetCount() == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("association %s deleted but still listed after %s", name, visibleWithin)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(c.App.Writer, "association %s deleted\n", name)
	return nil
}

// describeAssociation queries a running association for its state.
func describeAssociation(c *ucli.Context, cn *conn, name string) (workflows.AssociationState, error) {
	var st workflows.AssociationState
	if err := workflows.ValidAssociationName(name); err != nil {
		return st, err
	}
	id := contract.AssociationWorkflowID(name)
	if isClosed(c, cn, id) {
		return st, fmt.Errorf("association %s not found", name)
	}
	v, err := cn.client.QueryWorkflow(c.Context, id, "", contract.AssociationQueryDescribe)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		return st, notFound(err, "association "+name+" not found", "describe association "+name)
	}
	return st, nil
}

func associationList(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	type row struct {
		Name     string `json:"name"`
		Document string `json:"document"`
		Status   string `json:"status"`
	}
	rows := []row{}
	var token []byte
	for {
		resp, err := cn.client.ListWorkflow(c.Context, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: cn.namespace, NextPageToken: token, PageSize: node.ListPageSize,
			Query: "WorkflowType = '" + contract.AssociationWorkflow + "' AND ExecutionStatus = 'Running'",
		})
		if err != nil {
			return fmt.Errorf("list associations: %w", err)
		}
		for _, e := range resp.Executions {
			sa := e.GetSearchAttributes().GetIndexedFields()
			r := row{Name: contract.AssociationName(e.GetExecution().GetWorkflowId())}
			_ = cn.dc.FromPayload(sa[contract.AttrDocument.GetName()], &r.Document)
			_ = cn.dc.FromPayload(sa[contract.AttrStatus.GetName()], &r.Status)
			rows = append(rows, r)
		}
		if token = resp.NextPageToken; len(token) == 0 {
			break
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.Name, b.Name) })
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
	name, p, cn, err := openNamed(c, "NAME")
	if err != nil {
		return err
	}
	defer cn.client.Close()
	st, err := describeAssociation(c, cn, name)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(st)
	}
	var tg []string
	for _, t := range st.Spec.Targets {
		tg = append(tg, t.String())
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
		{"Name", st.Spec.Name}, {"Document", st.Spec.Document}, {"Targets", strings.Join(tg, " AND ")},
		{"Schedule", sched}, {"Next run", when(st.NextRunAt)},
		{"Max concurrency", st.Spec.MaxConcurrency.String()}, {"Max errors", st.Spec.MaxErrors.String()},
		{"Version", fmt.Sprint(st.Version)}, {"Created", when(st.CreatedAt) + " by " + st.CreatedBy},
		{"Status", st.Status}, {"Detail", st.DetailedStatus},
		{"Running execution", running}, {"Last execution", last},
	})
}

func associationExecutions(c *ucli.Context) error {
	name, p, cn, err := openNamed(c, "NAME")
	if err != nil {
		return err
	}
	defer cn.client.Close()
	st, err := describeAssociation(c, cn, name)
	if err != nil {
		return err
	}
	recs := slices.Clone(st.Executions)
	if st.Running != nil {
		recs = append(recs, *st.Running)
	}
	slices.Reverse(recs)
	if p.json {
		if recs == nil {
			recs = []workflows.ExecutionRecord{}
		}
		return p.value(recs)
	}
	rows := make([][]string, 0, len(recs))
	for _, r := range recs {
		rows = append(rows, []string{r.ExecutionID, r.Reason, r.Status, fmt.Sprintf("%d/%d", r.Counts.Success, r.Counts.Total), when(r.StartedAt), when(r.EndedAt), r.DetailedStatus})
	}
	return p.table([]string{"EXECUTION", "REASON", "STATUS", "SUCCEEDED", "STARTED", "ENDED", "DETAIL"}, rows)
}

// executionState returns an execution's result if it has ended, else its
// live progress.
func executionState(c *ucli.Context, cn *conn, name, execID string) (workflows.ExecutionResult, bool, error) {
	var res workflows.ExecutionResult
	id := contract.ExecutionWorkflowID(name, execID)
	d, err := cn.client.DescribeWorkflowExecution(c.Context, id, "")
	if err != nil {
		return res, false, notFound(err, "execution "+execID+" of association "+name+" not found", "describe execution "+execID)
	}
	if d.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		err := cn.client.GetWorkflow(c.Context, id, "").Get(c.Context, &res)
		return res, true, err
	}
	v, err := cn.client.QueryWorkflow(c.Context, id, "", contract.ExecutionQueryProgress)
	if err == nil {
		err = v.Get(&res)
	}
	return res, false, err
}

// followStartWithin bounds how long --wait waits for a queued execution
// to start.
const followStartWithin = 60 * time.Second

// follow prints an execution's progress until it ends, then its targets;
// it fails unless every target succeeded.
func follow(c *ucli.Context, cn *conn, name, execID string) error {
	started := time.Now()
	last := ""
	for {
		res, done, err := executionState(c, cn, name, execID)
		var nf *serviceerror.NotFound
		if err != nil && (errors.As(err, &nf) || strings.Contains(err.Error(), "not found")) && time.Since(started) < followStartWithin {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if err != nil {
			return err
		}
		k := res.Counts
		line := fmt.Sprintf("%s: %d/%d done (%d succeeded, %d failed), %d in progress", res.Status, k.Done(), k.Total, k.Success, k.Errors(), k.InProgress)
		if line != last {
			fmt.Fprintln(c.App.ErrWriter, line)
			last = line
		}
		if done {
			if err := printOutcome(c, cn, name, res); err != nil {
				return err
			}
			if res.Status != contract.StatusSuccess {
				return fmt.Errorf("execution %s %s: %s", execID, res.Status, res.DetailedStatus)
			}
			fmt.Fprintf(c.App.Writer, "execution %s succeeded: %s\n", execID, res.DetailedStatus)
			return nil
		}
		select {
		case <-c.Context.Done():
			return c.Context.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// listAllUpTo is the largest execution whose every target --wait lists;
// past it, --wait lists the targets that did not succeed.
const listAllUpTo = 50

// printOutcome prints the targets of an ended execution.
func printOutcome(c *ucli.Context, cn *conn, name string, res workflows.ExecutionResult) error {
	if res.Counts.Total <= listAllUpTo {
		ts, err := targetSummaries(c, cn, name, res)
		if err != nil {
			return err
		}
		return printTargetSummaries(c, ts)
	}
	ts := slices.Clone(res.Failures)
	for _, nr := range res.NotRun {
		for _, id := range nr.Nodes {
			if len(ts) >= listAllUpTo {
				break
			}
			ts = append(ts, contract.TargetSummary{NodeID: id, Status: nr.Status, DetailedStatus: nr.DetailedStatus, ExitCode: -1})
		}
	}
	if len(ts) == 0 {
		return nil
	}
	fmt.Fprintf(c.App.Writer, "targets that did not succeed (first %d; see `association targets`):\n", len(ts))
	return printTargetSummaries(c, ts)
}

func printTargetSummaries(c *ucli.Context, ts []contract.TargetSummary) error {
	rows := make([][]string, 0, len(ts))
	for _, t := range ts {
		rows = append(rows, []string{t.NodeID, t.Status, fmt.Sprint(t.ExitCode), when(t.StartedAt), when(t.EndedAt), t.DetailedStatus})
	}
	return (&printer{w: c.App.Writer}).table([]string{"NODE", "STATUS", "EXIT", "STARTED", "ENDED", "DETAIL"}, rows)
}

func associationTargets(c *ucli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	execID := c.String("execution")
	if _, err := uuid.Parse(execID); execID != "" && err != nil {
		return fmt.Errorf("execution %q: not an execution id", execID)
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	if execID == "" {
		if execID, err = latestExecution(c, cn, name); err != nil {
			return err
		}
	}
	res, _, err := executionState(c, cn, name, execID)
	if err != nil {
		return err
	}
	ts, err := targetSummaries(c, cn, name, res)
	if err != nil {
		return err
	}
	outs := make([]TargetOutput, 0, len(ts))
	for _, t := range ts {
		outs = append(outs, targetOutput(t))
	}
	if p.json {
		return p.value(outs)
	}
	fmt.Fprintf(c.App.Writer, "execution %s: %s %s\n\n", execID, res.Status, res.DetailedStatus)
	if err := printTargetSummaries(c, ts); err != nil {
		return err
	}
	for _, o := range outs {
		for _, s := range o.Output {
			fmt.Fprintf(c.App.Writer, "\n--- %s / %s (exit %d)\n", o.NodeID, s.Name, s.ExitCode)
			if s.Stdout != "" {
				fmt.Fprint(c.App.Writer, ensureNewline(s.Stdout))
			}
			if s.Stderr != "" {
				fmt.Fprintf(c.App.Writer, "--- stderr\n%s", ensureNewline(s.Stderr))
			}
		}
	}
	return nil
}

// latestExecution is the running execution of an association, else its
// most recent one.
func latestExecution(c *ucli.Context, cn *conn, name string) (string, error) {
	st, err := describeAssociation(c, cn, name)
	if err != nil {
		return "", err
	}
	if st.Running != nil {
		return st.Running.ExecutionID, nil
	}
	if n := len(st.Executions); n > 0 {
		return st.Executions[n-1].ExecutionID, nil
	}
	return "", fmt.Errorf("association %s has no execution yet", name)
}

func ensureNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
