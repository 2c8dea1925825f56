package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/client"
	"github.com/stead-io/stead/documents"
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
				Flags: append(append(parameterFlags(),
					&ucli.StringFlag{Name: "platform", Usage: "linux or windows: the platform of the node to render for", Value: "linux"},
					versionFlag, outputFlag,
				), connectFlags()...),
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
	doc, err := client.ValidateDocument(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	return data, doc, nil
}

// readPut is the name and content document create and update send.
func readPut(c *ucli.Context) (string, []byte, error) {
	name := c.String("name")
	if err := documents.ValidName(name); err != nil {
		return "", nil, err
	}
	data, _, err := readDocumentFile(c.String("file"))
	return name, data, err
}

func documentCreate(c *ucli.Context) error {
	name, data, err := readPut(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	res, err := cl.CreateDocument(c.Context, name, data)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "document %s created: version %d (%s)\n", name, res.Version.Version, res.Version.Hash)
	return nil
}

func documentUpdate(c *ucli.Context) error {
	name, data, err := readPut(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	res, err := cl.UpdateDocument(c.Context, name, data)
	if err != nil {
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

// DocumentListEntry is one row of `document list`.
type DocumentListEntry = client.DocumentListEntry

func documentList(c *ucli.Context) error {
	p, err := newPrinter(c)
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	entries, err := cl.Documents(c.Context)
	if err != nil {
		return err
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
type DocumentDescription = client.DocumentDescription

func documentDescribe(c *ucli.Context) error {
	name, p, cl, err := openNamed(c, "NAME")
	if err != nil {
		return err
	}
	defer cl.Close()
	d, err := cl.DescribeDocument(c.Context, name, c.String("version"))
	if err != nil {
		return err
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
	name, p, cl, err := openNamed(c, "NAME")
	if err != nil {
		return err
	}
	defer cl.Close()
	info, err := cl.DocumentVersions(c.Context, name)
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
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	info, err := cl.SetDefaultDocumentVersion(c.Context, name, c.Int("version"))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "document %s: default version is %d\n", name, info.DefaultVersion)
	return nil
}

func documentDelete(c *ucli.Context) error {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return err
	}
	cl := newClient(c)
	defer cl.Close()
	if err := cl.DeleteDocument(c.Context, name); err != nil {
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
	fmt.Fprintf(c.App.Writer, "%s: valid schemaVersion %s document, %s, %s\n", file, doc.SchemaVersion, count(len(doc.MainSteps), "step"), count(len(doc.Parameters), "parameter"))
	return nil
}

func documentRender(c *ucli.Context) error {
	arg, p, cl, err := openNamed(c, "FILE|NAME")
	if err != nil {
		return err
	}
	defer cl.Close()
	platform := c.String("platform")
	if platform != "linux" && platform != "windows" {
		return fmt.Errorf("platform %q: want linux or windows", platform)
	}
	params, err := parseParameters(c)
	if err != nil {
		return err
	}
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
		if src, err = cl.ResolveDocument(c.Context, arg, version); err != nil {
			if errors.Is(err, documents.ErrNotFound) {
				return fmt.Errorf("%s is neither a file nor a document: %w", arg, err)
			}
			return err
		}
	}
	// A secret parameter's value is never in the plan; a {{ssm-secure:...}} reference is.
	plan, err := cl.RenderDocument(c.Context, src, params)
	if err != nil {
		return err
	}
	if p.json {
		return p.value(plan)
	}
	printPlan(c.App.Writer, plan, platform)
	return nil
}

// printPlan prints what each step of plan runs on a node of platform.
func printPlan(w io.Writer, plan *documents.Plan, platform string) {
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
}
