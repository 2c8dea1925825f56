package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/node"
	"github.com/stead-io/stead/workflows"
)

func documentCommand() *ucli.Command {
	nameFlag := &ucli.StringFlag{Name: "name", Usage: "document name (3-128 letters, digits, '_', '.', '-')", Required: true}
	fileFlag := &ucli.StringFlag{Name: "file", Usage: "document content: an SSM schema 2.2 document in JSON or YAML", Required: true}
	versionFlag := &ucli.StringFlag{Name: "version", Usage: "version: a number, $LATEST or $DEFAULT", Value: documents.VersionDefault}
	return &ucli.Command{
		Name:  "document",
		Usage: "register, inspect and render the documents associations run",
		Subcommands: []*ucli.Command{
			{
				Name:   "create",
				Usage:  "register a document from a file as its version 1",
				Flags:  append([]ucli.Flag{nameFlag, fileFlag}, connectFlags()...),
				Action: documentCreate,
			},
			{
				Name:   "update",
				Usage:  "add a version to a registered document (only if the content changed)",
				Flags:  append([]ucli.Flag{nameFlag, fileFlag}, connectFlags()...),
				Action: documentUpdate,
			},
			{
				Name:   "list",
				Usage:  "list built-in and registered documents",
				Flags:  append(connectFlags(), outputFlag),
				Action: documentList,
			},
			{
				Name:      "describe",
				Usage:     "print a document's metadata and content",
				ArgsUsage: "NAME",
				Flags:     append([]ucli.Flag{versionFlag, outputFlag}, connectFlags()...),
				Action:    documentDescribe,
			},
			{
				Name:      "versions",
				Usage:     "list a registered document's versions",
				ArgsUsage: "NAME",
				Flags:     append(connectFlags(), outputFlag),
				Action:    documentVersions,
			},
			{
				Name:      "set-default",
				Usage:     "choose the version a bare document name ($DEFAULT) runs",
				ArgsUsage: "NAME",
				Flags:     append([]ucli.Flag{&ucli.IntFlag{Name: "version", Usage: "version number", Required: true}}, connectFlags()...),
				Action:    documentSetDefault,
			},
			{
				Name:      "delete",
				Usage:     "delete a registered document and all its versions",
				ArgsUsage: "NAME",
				Flags:     connectFlags(),
				Action:    documentDelete,
			},
			{
				Name:      "validate",
				Usage:     "check a document file without a server",
				ArgsUsage: "FILE",
				Action:    documentValidate,
			},
			{
				Name:      "render",
				Usage:     "print exactly what each step would run, with its environment; nothing runs",
				ArgsUsage: "FILE|NAME",
				Flags: append([]ucli.Flag{
					&ucli.StringSliceFlag{Name: "parameters", Usage: `document parameters as JSON or key=value (repeatable)`},
					&ucli.StringFlag{Name: "platform", Usage: "linux or windows: the platform of the node to render for", Value: "linux"},
					versionFlag, outputFlag,
				}, connectFlags()...),
				Action: documentRender,
			},
		},
	}
}

// readDocumentFile reads and checks a document file: the checks a registry applies, so
// that a bad file is refused before anything is sent.
func readDocumentFile(file string) ([]byte, *documents.Document, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read document file: %w", err)
	}
	doc, _, err := documents.Check(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	return data, doc, nil
}

func documentCreate(c *ucli.Context) error {
	name := c.String("name")
	if err := documents.ValidName(name); err != nil {
		return err
	}
	data, _, err := readDocumentFile(c.String("file"))
	if err != nil {
		return err
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	var res workflows.PutDocumentResult
	err = updateWithStart(c, cn, contract.DocumentWorkflowID(name), contract.DocumentWorkflow, workflows.DocumentState{},
		contract.DocumentUpdateCreate, workflows.PutDocumentRequest{Name: name, Content: string(data), By: cn.identity}, &res)
	if err != nil {
		return fmt.Errorf("create document %s: %s", name, updateMessage(err))
	}
	if err := awaitDocumentListed(c, cn, name, true); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "document %s created: version %d (%s)\n", name, res.Version.Version, res.Version.Hash)
	return nil
}

func documentUpdate(c *ucli.Context) error {
	name := c.String("name")
	if err := documents.ValidName(name); err != nil {
		return err
	}
	data, _, err := readDocumentFile(c.String("file"))
	if err != nil {
		return err
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	var res workflows.PutDocumentResult
	if err := updateDocument(c, cn, name, contract.DocumentUpdateUpdate,
		workflows.PutDocumentRequest{Name: name, Content: string(data), By: cn.identity}, &res); err != nil {
		return err
	}
	if !res.Created {
		fmt.Fprintf(c.App.Writer, "document %s unchanged: version %d already has this content (%s)\n", name, res.Version.Version, res.Version.Hash)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "document %s updated: version %d (%s); run `stead document set-default %s --version %d` to make it the default\n",
		name, res.Version.Version, res.Version.Hash, name, res.Version.Version)
	return nil
}

// updateDocument sends an update to a registered document's workflow.
func updateDocument(c *ucli.Context, cn *conn, name, update string, arg, result any) error {
	if _, err := describeDocument(c, cn, name); err != nil {
		return err
	}
	if err := sendUpdate(c, cn, contract.DocumentWorkflowID(name), update, arg, result); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) || workflows.IsDocumentNotFound(err) {
			return fmt.Errorf("document %s not found", name)
		}
		return fmt.Errorf("%s document %s: %s", update, name, updateMessage(err))
	}
	return nil
}

// updateMessage is the reason an update was refused, without the SDK's framing.
func updateMessage(err error) string {
	msg := err.Error()
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	if inner := err.Error(); inner != "" {
		msg = inner
	}
	return msg
}

// describeDocument queries a registered document's versions; a built-in name or one never
// registered is an error naming the problem.
func describeDocument(c *ucli.Context, cn *conn, name string) (workflows.DocumentInfo, error) {
	var info workflows.DocumentInfo
	if err := documents.ValidName(name); err != nil {
		return info, err
	}
	v, err := cn.client.QueryWorkflow(c.Context, contract.DocumentWorkflowID(name), "", contract.DocumentQueryDescribe)
	if err == nil {
		err = v.Get(&info)
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) || workflows.IsDocumentNotFound(err) || (err == nil && isClosed(c, cn, contract.DocumentWorkflowID(name))) {
		return info, fmt.Errorf("document %s not found", name)
	}
	if err != nil {
		return info, fmt.Errorf("describe document %s: %w", name, err)
	}
	return info, nil
}

// listedWithin bounds how long create and delete wait for `document list` to agree
// (visibility is updated asynchronously by the server).
const listedWithin = 10 * time.Second

// awaitDocumentListed polls the registry listing until it shows (or no longer shows) name.
func awaitDocumentListed(c *ucli.Context, cn *conn, name string, want bool) error {
	deadline := time.Now().Add(listedWithin)
	for {
		names, err := registeredDocuments(c, cn)
		if err != nil {
			return err
		}
		if slices.Contains(names, name) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("document %s changed but the document list does not show it after %s", name, listedWithin)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// registeredDocuments lists the names of registered documents, sorted.
func registeredDocuments(c *ucli.Context, cn *conn) ([]string, error) {
	var names []string
	var token []byte
	for {
		resp, err := cn.client.ListWorkflow(c.Context, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace:     cn.namespace,
			Query:         fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", contract.DocumentWorkflow),
			NextPageToken: token,
			PageSize:      node.ListPageSize,
		})
		if err != nil {
			return nil, fmt.Errorf("list documents: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			if name, ok := strings.CutPrefix(e.GetExecution().GetWorkflowId(), contract.DocumentWorkflowID("")); ok && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	slices.Sort(names)
	return names, nil
}

// DocumentListEntry is one row of `document list`.
type DocumentListEntry struct {
	Name           string `json:"name"`
	Source         string `json:"source"` // "built-in" or "registered"
	AliasOf        string `json:"aliasOf,omitempty"`
	DefaultVersion int    `json:"defaultVersion"`
	LatestVersion  int    `json:"latestVersion"`
}

func documentList(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	var entries []DocumentListEntry
	for _, n := range documents.BuiltinNames() {
		entries = append(entries, DocumentListEntry{Name: n, Source: "built-in", DefaultVersion: 1, LatestVersion: 1})
	}
	for _, a := range documents.BuiltinAliases() {
		entries = append(entries, DocumentListEntry{Name: a[0], Source: "built-in", AliasOf: a[1], DefaultVersion: 1, LatestVersion: 1})
	}
	cn, err := connect(c)
	if err != nil {
		return err
	}
	defer cn.client.Close()
	names, err := registeredDocuments(c, cn)
	if err != nil {
		return err
	}
	for _, n := range names {
		info, err := describeDocument(c, cn, n)
		if err != nil {
			continue // deleted between the listing and the query
		}
		entries = append(entries, DocumentListEntry{Name: n, Source: "registered", DefaultVersion: info.DefaultVersion, LatestVersion: info.LatestVersion})
	}
	if p.json {
		return p.value(entries)
	}
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		source := e.Source
		if e.AliasOf != "" {
			source += " (alias of " + e.AliasOf + ")"
		}
		rows = append(rows, []string{e.Name, source, fmt.Sprint(e.DefaultVersion), fmt.Sprint(e.LatestVersion)})
	}
	return p.table([]string{"NAME", "SOURCE", "DEFAULT", "LATEST"}, rows)
}

// DocumentDescription is what `document describe` prints: one version with its content.
type DocumentDescription struct {
	Name           string    `json:"name"`
	BuiltIn        bool      `json:"builtIn"`
	Version        int       `json:"version"`
	DefaultVersion int       `json:"defaultVersion"`
	LatestVersion  int       `json:"latestVersion"`
	Hash           string    `json:"hash"`
	CreatedBy      string    `json:"createdBy,omitempty"`
	CreatedAt      time.Time `json:"createdAt,omitzero"`
	Content        string    `json:"content"`
}

func documentDescribe(c *ucli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	version := c.String("version")
	if err := documents.ValidVersion(version); err != nil {
		return err
	}
	var d DocumentDescription
	if _, _, ok := documents.Builtin(name); ok {
		src, err := documents.ResolveBuiltin(name, version)
		if err != nil {
			return err
		}
		d = DocumentDescription{Name: src.Name, BuiltIn: true, Version: 1, DefaultVersion: 1, LatestVersion: 1, Hash: src.Hash, Content: string(src.Content)}
	} else {
		cn, err := connect(c)
		if err != nil {
			return err
		}
		defer cn.client.Close()
		info, err := describeDocument(c, cn, name)
		if err != nil {
			return err
		}
		v, err := cn.client.QueryWorkflow(c.Context, contract.DocumentWorkflowID(name), "", contract.DocumentQueryVersion, version)
		var dv workflows.DocumentVersion
		if err == nil {
			err = v.Get(&dv)
		}
		if err != nil {
			return fmt.Errorf("describe document %s: %s", name, updateMessage(err))
		}
		d = DocumentDescription{Name: name, Version: dv.Version, DefaultVersion: info.DefaultVersion, LatestVersion: info.LatestVersion,
			Hash: dv.Hash, CreatedBy: dv.CreatedBy, CreatedAt: dv.CreatedAt, Content: dv.Content}
	}
	if p.json {
		return p.value(d)
	}
	fields := [][2]string{{"Name", d.Name}, {"Version", fmt.Sprint(d.Version)}, {"Default version", fmt.Sprint(d.DefaultVersion)},
		{"Latest version", fmt.Sprint(d.LatestVersion)}, {"Hash", d.Hash}}
	if d.BuiltIn {
		fields = append(fields, [2]string{"Source", "built-in"})
	} else {
		fields = append(fields, [2]string{"Created by", d.CreatedBy}, [2]string{"Created at", when(d.CreatedAt)})
	}
	if err := p.fields(fields); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer)
	_, err = fmt.Fprint(c.App.Writer, strings.TrimSuffix(d.Content, "\n")+"\n")
	return err
}

func documentVersions(c *ucli.Context) error {
	name, p, cn, err := openNamed(c, "NAME")
	if err != nil {
		return err
	}
	defer cn.client.Close()
	info, err := describeDocument(c, cn, name)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(info)
	}
	rows := make([][]string, 0, len(info.Versions))
	for _, v := range info.Versions {
		def := ""
		if v.Version == info.DefaultVersion {
			def = "default"
		}
		rows = append(rows, []string{fmt.Sprint(v.Version), def, v.Hash, fmt.Sprint(v.Size), v.CreatedBy, when(v.CreatedAt)})
	}
	return p.table([]string{"VERSION", "", "HASH", "BYTES", "CREATED BY", "CREATED AT"}, rows)
}

func documentSetDefault(c *ucli.Context) error {
	name, cn, err := openArg(c, "NAME")
	if err != nil {
		return err
	}
	defer cn.client.Close()
	var info workflows.DocumentInfo
	if err := updateDocument(c, cn, name, contract.DocumentUpdateSetDefault,
		workflows.SetDefaultRequest{Version: c.Int("version"), By: cn.identity}, &info); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "document %s: default version is %d\n", name, info.DefaultVersion)
	return nil
}

func documentDelete(c *ucli.Context) error {
	name, cn, err := openArg(c, "NAME")
	if err != nil {
		return err
	}
	defer cn.client.Close()
	if err := updateDocument(c, cn, name, contract.DocumentUpdateDelete, workflows.DeleteDocumentRequest{By: cn.identity}, nil); err != nil {
		return err
	}
	if err := awaitDocumentListed(c, cn, name, false); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "document %s deleted\n", name)
	return nil
}

func documentValidate(c *ucli.Context) error {
	file, err := oneArg(c, "FILE")
	if err != nil {
		return err
	}
	data, doc, err := readDocumentFile(file)
	if err != nil {
		return err
	}
	_, warnings, _ := documents.Check(data)
	for _, w := range warnings {
		fmt.Fprintf(c.App.Writer, "%s: warning: %s\n", file, w)
	}
	fmt.Fprintf(c.App.Writer, "%s: valid schemaVersion %s document, %d steps, %d parameters\n", file, doc.SchemaVersion, len(doc.MainSteps), len(doc.Parameters))
	return nil
}

// lazyResolver resolves built-ins offline and connects to the registry only when a
// registered document is needed.
type lazyResolver struct {
	c  *ucli.Context
	cn *conn
}

func (r *lazyResolver) resolve(name, version string) (documents.Source, error) {
	if _, _, ok := documents.Builtin(name); ok {
		return documents.ResolveBuiltin(name, version)
	}
	if r.cn == nil {
		cn, err := connect(r.c)
		if err != nil {
			return documents.Source{}, err
		}
		r.cn = cn
	}
	return activities.QueryDocument(r.c.Context, r.cn.client, name, version)
}

func (r *lazyResolver) close() {
	if r.cn != nil {
		r.cn.client.Close()
	}
}

func documentRender(c *ucli.Context) error {
	arg, err := oneArg(c, "FILE|NAME")
	if err != nil {
		return err
	}
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	platform := c.String("platform")
	if platform != "linux" && platform != "windows" {
		return fmt.Errorf("platform %q: want linux or windows", platform)
	}
	params, err := documents.ParseParameterFlags(c.StringSlice("parameters"))
	if err != nil {
		return err
	}
	r := &lazyResolver{c: c}
	defer r.close()
	var src documents.Source
	if data, ferr := os.ReadFile(arg); ferr == nil {
		src = documents.Source{Name: arg, Version: "file", Hash: documents.Hash(data), Content: data}
	} else if !errors.Is(ferr, fs.ErrNotExist) {
		return fmt.Errorf("read document file: %w", ferr)
	} else {
		version := c.String("version")
		if err := documents.ValidVersion(version); err != nil {
			return err
		}
		if src, err = r.resolve(arg, version); err != nil {
			if errors.Is(err, documents.ErrNotFound) {
				return fmt.Errorf("%s is neither a file nor a document: %w", arg, err)
			}
			return err
		}
	}
	plan, err := documents.RenderWith(src.Name, src.Content, params, r.resolve)
	if err != nil {
		return err
	}
	plan.DocumentVersion, plan.DocumentHash = src.Version, src.Hash
	// A secret parameter's value is never printed; a {{ssm-secure:...}} reference is.
	plan = plan.Redacted()
	if p.json {
		return p.value(plan)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "document %s version %s (%s), rendered for %s; nothing was run\n", plan.DocumentName, plan.DocumentVersion, plan.DocumentHash, platform)
	for i, s := range plan.Steps {
		fmt.Fprintf(w, "\n--- step %d: %s (%s)\n", i+1, s.Name, s.Action)
		switch {
		case s.Skipped:
			fmt.Fprintf(w, "skipped: %s\n", s.SkipReason)
			continue
		case len(s.Platforms) > 0 && !slices.Contains(s.Platforms, platform):
			fmt.Fprintf(w, "skipped: precondition: platform %s is not %v\n", platform, s.Platforms)
			continue
		case s.Refused != "":
			fmt.Fprintf(w, "fails when reached: %s\n", s.Refused)
			continue
		}
		if s.Document != "" {
			fmt.Fprintf(w, "from: %s\n", s.Document)
		}
		fmt.Fprintf(w, "timeout: %ds, attempts: %d", s.TimeoutSeconds, s.MaxAttempts)
		if s.OnFailure != "" {
			fmt.Fprintf(w, ", onFailure: %s", s.OnFailure)
		}
		if s.OnSuccess != "" {
			fmt.Fprintf(w, ", onSuccess: %s", s.OnSuccess)
		}
		if s.FinallyStep {
			fmt.Fprint(w, ", finally step")
		}
		fmt.Fprintln(w)
		if d := s.Download; d != nil {
			from := d.URL
			if d.SourceType == documents.SourceWorker {
				from = "worker file " + d.Path
			}
			sum := "not checked"
			if d.SHA256 != "" {
				sum = d.SHA256
			}
			fmt.Fprintf(w, "download: %s\nsha256: %s\nto: %s\n", from, sum, d.DestinationPath)
			continue
		}
		if l := s.LocalDocument; l != nil {
			fmt.Fprintf(w, "runs the document file %s on the node when reached, with documentParameters %s\n", l.Path, l.Parameters)
			continue
		}
		if s.WorkingDirectory != "" {
			fmt.Fprintf(w, "working directory: %s\n", s.WorkingDirectory)
		}
		for _, e := range s.Env {
			fmt.Fprintf(w, "env: %s=%q\n", e.Name, e.Value)
		}
		fmt.Fprintf(w, "%s script:\n%s\n", s.Shell, s.Script)
	}
	return nil
}

// associationDocument resolves an association's document reference against built-ins
// and the registry, and renders it with the parameters: the check association create makes
// before it starts anything. It returns the reference to store: a built-in's canonical
// name, or the registered name with the version the user gave.
func associationDocument(c *ucli.Context, cn *conn, ref string, params map[string]any) (string, error) {
	name, version, err := documents.ParseRef(ref)
	if err != nil {
		return "", err
	}
	r := &lazyResolver{c: c, cn: cn}
	src, err := r.resolve(name, version)
	if errors.Is(err, documents.ErrNotFound) {
		return "", fmt.Errorf("document %s not found (built-in documents: %s; `stead document list` shows registered ones)", ref, strings.Join(documents.BuiltinNames(), ", "))
	}
	if err != nil {
		return "", err
	}
	if _, err := documents.RenderWith(src.Name, src.Content, params, r.resolve); err != nil {
		return "", fmt.Errorf("document %s: %w", ref, err)
	}
	if canonical, _, ok := documents.Builtin(name); ok {
		name = canonical
	}
	if strings.Contains(ref, ":") {
		return name + ":" + version, nil
	}
	return name, nil
}
