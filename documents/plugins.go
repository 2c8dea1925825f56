package documents

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// Plugins beyond the script plugins: fetching a file onto the target and running another
// document as a step.
const (
	ActionRunDocument     = "aws:runDocument"
	ActionDownloadContent = "aws:downloadContent"
)

// documentType values of aws:runDocument.
const (
	// DocumentTypeSSM names a registered or built-in document by documentPath ("NAME" or
	// "NAME:VERSION").
	DocumentTypeSSM = "SSMDocument"
	// DocumentTypeLocalPath names a document file on the target, one an earlier
	// aws:downloadContent step put there: it is read and expanded when the step is reached
	// (see LocalDocument).
	DocumentTypeLocalPath = "LocalPath"
)

// sourceType values of aws:downloadContent that Stead fetches.
const (
	// SourceHTTP fetches sourceInfo.url from the worker.
	SourceHTTP = "HTTP"
	// SourceWorker copies sourceInfo.path, relative to the directory the worker serves
	// (stead worker --files DIR), so that files need not be published anywhere.
	SourceWorker = "Worker"
)

// MaxNesting is how deep aws:runDocument may nest documents: a document may run one that
// runs one that runs one, no deeper.
const MaxNesting = 3

// authMethods are the HTTP sourceInfo authMethod values SSM defines; Stead fetches with None only.
var authMethods = []string{authNone, "Basic", "Digest"}

const authNone = "None"

const (
	inputDocumentType       = "documentType"
	inputDocumentPath       = "documentPath"
	inputDocumentParameters = "documentParameters"
	inputSourceType         = "sourceType"
	inputSourceInfo         = "sourceInfo"
	inputDestinationPath    = "destinationPath"
)

var (
	runDocumentInputs = []string{inputDocumentType, inputDocumentPath, inputDocumentParameters, inputTimeoutSeconds,
		inputOnFailure, inputOnSuccess, inputFinallyStep, inputMaxAttempts, inputID}
	downloadInputs = []string{inputSourceType, inputSourceInfo, inputDestinationPath, inputTimeoutSeconds,
		inputOnFailure, inputOnSuccess, inputFinallyStep, inputMaxAttempts, inputID}
	documentTypes = []string{DocumentTypeSSM, DocumentTypeLocalPath}
	// sourceTypes are those SSM defines plus Stead's Worker; refusedSources are valid but not runnable.
	sourceTypes    = []string{SourceHTTP, SourceWorker, "GitHub", "Git", "S3", "SSMDocument"}
	refusedSources = map[string]string{
		"GitHub":      "sourceType GitHub is not supported: Stead does not fetch from GitHub; use sourceType HTTP with the file's raw URL",
		"Git":         "sourceType Git is not supported: Stead does not clone repositories; use sourceType HTTP with the file's raw URL",
		"S3":          "sourceType S3 is not supported: Stead holds no AWS credentials; use sourceType HTTP with a presigned URL",
		"SSMDocument": "sourceType SSMDocument is not supported: run the document with aws:runDocument instead of downloading it",
	}
	// sourceKeys are the sourceInfo keys of each sourceType, as SSM defines them (sha256 and
	// the Worker source are Stead's).
	sourceKeys = map[string][]string{
		SourceHTTP:    {"url", "allowInsecureDownload", "authMethod", "username", "password", "sha256"},
		SourceWorker:  {"path", "sha256"},
		"GitHub":      {"owner", "repository", "path", "getOptions", "tokenInfo"},
		"Git":         {"repository", "getOptions", "privateSSHKey", "skipHostKeyChecking", "username", "password"},
		"S3":          {"path"},
		"SSMDocument": {"name"},
	}
	// requiredSourceKey is the sourceInfo key each fetched sourceType cannot do without.
	requiredSourceKey = map[string]string{SourceHTTP: "url", SourceWorker: "path"}
	sha256RE          = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// Download is what an aws:downloadContent step copies to a target: the worker fetches the
// source, checks its digest and writes it on the node.
type Download struct {
	SourceType string // SourceHTTP or SourceWorker
	URL        string `json:",omitempty"` // for SourceHTTP
	// Path is the file for SourceWorker, relative to the directory the worker serves.
	Path string `json:",omitempty"`
	// SHA256 is the expected hex digest of the content; "" means unchecked.
	SHA256 string `json:",omitempty"`
	// DestinationPath is where the file lands on the node: relative paths are relative to
	// the login's home directory, and a path ending in "/" is a directory that receives the
	// source's file name.
	DestinationPath string
}

// documentNameRE is SSM's rule for document names.
var documentNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,128}$`)

// reservedPrefixes keep the built-ins' namespaces for built-ins.
var reservedPrefixes = []string{"Stead-", "AWS-"}

// ValidName checks a name for a document to register: SSM's rule (3 to 128 letters,
// digits, '_', '.', '-'), not a built-in and not in the built-ins' reserved prefixes, so
// that a name never means two documents.
func ValidName(name string) error {
	if canonical, _, ok := Builtin(name); ok {
		return fmt.Errorf("document %s is built in (%s): it cannot be created, updated or deleted", name, canonical)
	}
	if !documentNameRE.MatchString(name) {
		return fmt.Errorf("document name %q: want 3-128 letters, digits, '_', '.' or '-'", name)
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(strings.ToLower(name), strings.ToLower(p)) {
			return fmt.Errorf("document name %s: the prefix %s is reserved for built-in documents", name, p)
		}
	}
	return nil
}

// Version selectors, as in SSM.
const (
	VersionLatest  = "$LATEST"
	VersionDefault = "$DEFAULT"
)

var versionRE = regexp.MustCompile(`^[1-9][0-9]{0,8}$`)

// ParseRef splits a document reference "NAME" or "NAME:VERSION" (VERSION a number,
// $LATEST or $DEFAULT; none means $DEFAULT), as associations and aws:runDocument name
// documents.
func ParseRef(ref string) (name, version string, err error) {
	name, version, hasVersion := strings.Cut(strings.TrimSpace(ref), ":")
	if name == "" {
		return "", "", fmt.Errorf("document reference %q: name is empty", ref)
	}
	if !hasVersion {
		return name, VersionDefault, nil
	}
	if err := ValidVersion(version); err != nil {
		return "", "", fmt.Errorf("document reference %q: %w", ref, err)
	}
	return name, version, nil
}

// ValidVersion checks a version selector: a version number, $LATEST or $DEFAULT.
func ValidVersion(v string) error {
	if v == VersionLatest || v == VersionDefault || versionRE.MatchString(v) {
		return nil
	}
	return fmt.Errorf("version %q: want a version number, %s or %s", v, VersionLatest, VersionDefault)
}

// Source is a document found by a Resolver: its content and the identity an execution
// records.
type Source struct {
	Name, Version, Hash string
	Content             []byte
}

// ErrNotFound is wrapped by a Resolver's error for a document that does not exist, so
// that rendering can turn it into a step that fails with the reason when reached.
var ErrNotFound = errors.New("not found")

// Resolver finds the document an aws:runDocument step names: name and version as
// ParseRef returns them.
type Resolver func(name, version string) (Source, error)

// ResolveBuiltin is the Resolver of built-in documents only.
func ResolveBuiltin(name, version string) (Source, error) {
	canonical, content, ok := Builtin(name)
	if !ok {
		return Source{}, fmt.Errorf("document %s: %w", name, ErrNotFound)
	}
	if version != VersionDefault && version != VersionLatest && version != "1" {
		return Source{}, fmt.Errorf("document %s version %s: %w (built-in documents have version 1)", canonical, version, ErrNotFound)
	}
	return Source{Name: canonical, Version: "1", Hash: Hash(content), Content: content}, nil
}

// checkRunDocumentInputs validates an aws:runDocument step's inputs.
func (d *Document) checkRunDocumentInputs(label string, s Step) []error {
	var errs []error
	add := func(err error) { errs = append(errs, fmt.Errorf("%s: %w", label, err)) }
	for _, k := range sortedKeys(s.Inputs) {
		if !contains(runDocumentInputs, k) {
			add(errors.New("input " + unknownKeyMessage(k, "input", runDocumentInputs)))
		}
	}
	switch dt := s.Inputs[inputDocumentType].(type) {
	case nil:
		add(fmt.Errorf("%s: required (%s)", inputDocumentType, strings.Join(documentTypes, " or ")))
	case string:
		if placeholderRE.MatchString(dt) {
			for _, perr := range d.checkPlaceholders(dt, []string{TypeString}) {
				add(fmt.Errorf("%s: %w", inputDocumentType, perr))
			}
		} else if !contains(documentTypes, dt) {
			add(fmt.Errorf("%s: %s", inputDocumentType, unknownKeyMessage(dt, "document type", documentTypes)))
		}
	default:
		add(fmt.Errorf("%s: must be a string, got %s", inputDocumentType, kindOf(dt)))
	}
	// SSM's reference marks documentPath optional: a step without one is valid and fails
	// when it is reached, having nothing to run.
	switch p := s.Inputs[inputDocumentPath].(type) {
	case string:
		for _, perr := range d.checkPlaceholders(p, dataPlaceholderTypes) {
			add(fmt.Errorf("%s: %w", inputDocumentPath, perr))
		}
	case nil:
	default:
		add(fmt.Errorf("%s: must be a string, got %s", inputDocumentPath, kindOf(p)))
	}
	obj, err := d.objectInput(s.Inputs[inputDocumentParameters], inputDocumentParameters, nil)
	if err != nil {
		add(err)
	}
	for _, perr := range d.checkTreePlaceholders(obj) {
		add(fmt.Errorf("%s: %w", inputDocumentParameters, perr))
	}
	errs = append(errs, d.checkStepTimeoutInput(label, s)...)
	return errs
}

// checkDownloadInputs validates an aws:downloadContent step's inputs.
func (d *Document) checkDownloadInputs(label string, s Step) []error {
	var errs []error
	add := func(err error) { errs = append(errs, fmt.Errorf("%s: %w", label, err)) }
	for _, k := range sortedKeys(s.Inputs) {
		if !contains(downloadInputs, k) {
			add(errors.New("input " + unknownKeyMessage(k, "input", downloadInputs)))
		}
	}
	sourceType, _ := s.Inputs[inputSourceType].(string)
	switch st := s.Inputs[inputSourceType].(type) {
	case nil:
		add(fmt.Errorf("%s: required (%s)", inputSourceType, strings.Join(sourceTypes, ", ")))
	case string:
		if placeholderRE.MatchString(st) {
			for _, perr := range d.checkPlaceholders(st, []string{TypeString}) {
				add(fmt.Errorf("%s: %w", inputSourceType, perr))
			}
		} else if !contains(sourceTypes, st) {
			add(fmt.Errorf("%s: %s", inputSourceType, unknownKeyMessage(st, "source type", sourceTypes)))
		}
	default:
		add(fmt.Errorf("%s: must be a string, got %s", inputSourceType, kindOf(st)))
	}
	info, err := d.objectInput(s.Inputs[inputSourceInfo], inputSourceInfo, nil)
	if err != nil {
		add(err)
	}
	if isPlaceholder(s.Inputs[inputSourceInfo]) {
		info = nil // its keys are known only with the parameter's value
	}
	if s.Inputs[inputSourceInfo] == nil {
		add(fmt.Errorf("%s: required", inputSourceInfo))
	}
	for _, perr := range d.checkTreePlaceholders(info) {
		add(fmt.Errorf("%s: %w", inputSourceInfo, perr))
	}
	if keys, known := sourceKeys[sourceType]; known && err == nil && info != nil {
		for _, k := range sortedKeys(info) {
			if !contains(keys, k) {
				add(fmt.Errorf("%s: %s", inputSourceInfo, unknownKeyMessage(k, "key", keys)))
			}
		}
		if required := requiredSourceKey[sourceType]; required != "" {
			if v, ok := info[required].(string); !ok || strings.TrimSpace(v) == "" {
				add(fmt.Errorf("%s: %s: required, a string", inputSourceInfo, required))
			}
		}
		if v, ok := info["sha256"]; ok {
			if str, isString := v.(string); !isString || (!placeholderRE.MatchString(str) && !sha256RE.MatchString(str)) {
				add(fmt.Errorf("%s: sha256: must be 64 hexadecimal digits", inputSourceInfo))
			}
		}
		if v, ok := info["allowInsecureDownload"]; ok {
			if _, isBool := v.(bool); !isBool {
				add(fmt.Errorf("%s: allowInsecureDownload: must be true or false, got %s", inputSourceInfo, kindOf(v)))
			}
		}
		if v, ok := info["authMethod"]; ok {
			if str, isString := v.(string); !isString || (!placeholderRE.MatchString(str) && !contains(authMethods, str)) {
				add(fmt.Errorf("%s: authMethod: must be %s", inputSourceInfo, strings.Join(authMethods, ", ")))
			}
		}
	}
	switch p := s.Inputs[inputDestinationPath].(type) {
	case nil:
	case string:
		if strings.IndexByte(p, 0) >= 0 {
			add(fmt.Errorf("%s: contains a NUL byte", inputDestinationPath))
		}
		for _, perr := range d.checkPlaceholders(p, dataPlaceholderTypes) {
			add(fmt.Errorf("%s: %w", inputDestinationPath, perr))
		}
	default:
		add(fmt.Errorf("%s: must be a string, got %s", inputDestinationPath, kindOf(p)))
	}
	errs = append(errs, d.checkStepTimeoutInput(label, s)...)
	return errs
}

// checkStepTimeoutInput checks a step's inputs.timeoutSeconds: a whole number of seconds
// in range (0 means the default), as a number or a string, or a placeholder.
func (d *Document) checkStepTimeoutInput(label string, s Step) []error {
	var errs []error
	t := s.Inputs[inputTimeoutSeconds]
	if n, ok := intOf(t); ok {
		t = n
	}
	switch v := t.(type) {
	case nil:
	case int64:
		if v != 0 {
			if err := checkTimeout(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", label, inputTimeoutSeconds, err))
			}
		}
	case string:
		if placeholderRE.MatchString(v) {
			for _, perr := range d.checkPlaceholders(v, dataPlaceholderTypes) {
				errs = append(errs, fmt.Errorf("%s: %s: %w", label, inputTimeoutSeconds, perr))
			}
		} else if _, err := parseTimeout(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", label, inputTimeoutSeconds, err))
		}
	case float64:
		errs = append(errs, fmt.Errorf("%s: %s: must be a whole number of seconds, got %v", label, inputTimeoutSeconds, v))
	default:
		errs = append(errs, fmt.Errorf("%s: %s: must be a number of seconds, got %s", label, inputTimeoutSeconds, kindOf(v)))
	}
	return errs
}

// objectInput reads an input that SSM gives either as a JSON object in a string or as a
// mapping; nil reads as an empty object. The input may also be one placeholder of a
// StringMap (or String holding JSON) parameter: with values nil (validation) that reads
// as an empty object once the placeholder is checked.
func (d *Document) objectInput(v any, key string, values map[string]resolved) (map[string]any, error) {
	if name, ok := wholePlaceholder(stringOf(v)); ok {
		if values == nil {
			if errs := d.checkPlaceholders(stringOf(v), []string{TypeStringMap, TypeString}); len(errs) > 0 {
				return nil, fmt.Errorf("%s: %w", key, errs[0])
			}
			return map[string]any{}, nil
		}
		v = jsonValue(values[name].value)
	}
	switch x := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return x, nil
	case string:
		if strings.TrimSpace(x) == "" {
			return map[string]any{}, nil
		}
		tree, err := decodeJSON([]byte(x))
		if err != nil {
			return nil, fmt.Errorf("%s: not a JSON object: %w", key, err)
		}
		obj, ok := tree.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: must be a JSON object, got %s", key, kindOf(tree))
		}
		return obj, nil
	default:
		return nil, fmt.Errorf("%s: must be a mapping or a JSON object in a string, got %s", key, kindOf(v))
	}
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func isPlaceholder(v any) bool {
	_, ok := wholePlaceholder(stringOf(v))
	return ok
}

// checkTreePlaceholders checks every placeholder in the strings of a decoded tree.
func (d *Document) checkTreePlaceholders(v any) []error {
	var errs []error
	walkStrings(v, func(s string) {
		errs = append(errs, d.checkPlaceholders(s, nil)...)
	})
	return errs
}

// walkStrings calls f with every string in a decoded tree, keys excluded, in a fixed order.
func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case []any:
		for _, item := range x {
			walkStrings(item, f)
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			walkStrings(x[k], f)
		}
	}
}

// substituteTree returns a copy of v with its placeholders replaced: a string that is
// exactly one placeholder takes the parameter's typed value (a StringList stays a list),
// any other string has its placeholders replaced by their text.
func substituteTree(v any, values map[string]resolved) any {
	switch x := v.(type) {
	case string:
		if name, ok := wholePlaceholder(x); ok {
			if r, found := values[name]; found {
				return jsonValue(r.value)
			}
		}
		return substituteRaw(x, func(name string) string { return values[name].text })
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = substituteTree(item, values)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			out[k] = substituteTree(item, values)
		}
		return out
	default:
		return v
	}
}

// jsonValue turns a resolved value into the shapes a decoded document has.
func jsonValue(v any) any {
	if list, ok := v.([]string); ok {
		out := make([]any, len(list))
		for i, s := range list {
			out[i] = s
		}
		return out
	}
	return v
}

// renderDownload fills the plan step of an aws:downloadContent step.
func (d *Document) renderDownload(ps *PlanStep, s Step, values map[string]resolved) error {
	text := func(name string) string { return values[name].text }
	sourceType := substituteRaw(stringOf(s.Inputs[inputSourceType]), text)
	if !contains(sourceTypes, sourceType) {
		return fmt.Errorf("%s: %s", inputSourceType, unknownKeyMessage(sourceType, "source type", sourceTypes))
	}
	dest := substituteRaw(stringOf(s.Inputs[inputDestinationPath]), text)
	if reason, refused := refusedSources[sourceType]; refused {
		ps.Refused = reason
		return nil
	}
	raw, err := d.objectInput(s.Inputs[inputSourceInfo], inputSourceInfo, values)
	if err != nil {
		return err
	}
	info := raw
	if !isPlaceholder(s.Inputs[inputSourceInfo]) {
		info, _ = substituteTree(raw, values).(map[string]any)
	}
	keys := sourceKeys[sourceType]
	for _, k := range sortedKeys(info) {
		if !contains(keys, k) {
			return fmt.Errorf("%s: %s", inputSourceInfo, unknownKeyMessage(k, "key", keys))
		}
	}
	if method, _ := info["authMethod"].(string); method != "" && method != authNone {
		ps.Refused = fmt.Sprintf("sourceInfo authMethod %s is not supported: Stead's worker fetches without credentials; use a URL that needs none (a presigned URL)", quoteShort(method))
		return nil
	}
	dl := &Download{SourceType: sourceType, DestinationPath: dest}
	dl.SHA256, _ = info["sha256"].(string)
	dl.SHA256 = strings.ToLower(dl.SHA256)
	if dl.SHA256 != "" && !sha256RE.MatchString(dl.SHA256) {
		return fmt.Errorf("%s: sha256: must be 64 hexadecimal digits", inputSourceInfo)
	}
	var base string
	switch sourceType {
	case SourceHTTP:
		dl.URL, _ = info["url"].(string)
		u, err := url.Parse(dl.URL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("%s: url %s: want an http:// or https:// URL", inputSourceInfo, quoteShort(dl.URL))
		}
		if insecure, _ := info["allowInsecureDownload"].(bool); u.Scheme == "http" && !insecure {
			return fmt.Errorf("%s: url %s is not HTTPS; set allowInsecureDownload to true to fetch it anyway", inputSourceInfo, quoteShort(dl.URL))
		}
		base = path.Base(u.Path)
	case SourceWorker:
		dl.Path, _ = info["path"].(string)
		if path.IsAbs(dl.Path) || strings.IndexByte(dl.Path, 0) >= 0 {
			return fmt.Errorf("%s: path %s: want a path relative to the worker's files directory", inputSourceInfo, quoteShort(dl.Path))
		}
		base = path.Base(dl.Path)
	}
	if dest == "" || strings.HasSuffix(dest, "/") {
		if base == "" || base == "." || base == "/" {
			return fmt.Errorf("%s: the source names no file; give a destinationPath that is a file", inputDestinationPath)
		}
		dl.DestinationPath = dest + base
	}
	ps.Download = dl
	return nil
}

// expansion is what rendering an aws:runDocument step needs beside the step: how to find
// documents and which documents enclose this one.
type expansion struct {
	resolve Resolver
	chain   []string // canonical names, outermost first
}

// renderRunDocument expands an aws:runDocument step into the steps of the document it
// names, rendered with its documentParameters. ps is the step as rendered so far (name,
// precondition, flow control).
func (d *Document) renderRunDocument(ps PlanStep, s Step, values map[string]resolved, x expansion) ([]PlanStep, error) {
	if ps.Skipped || ps.Refused != "" {
		return []PlanStep{ps}, nil
	}
	text := func(name string) string { return values[name].text }
	docType := substituteRaw(stringOf(s.Inputs[inputDocumentType]), text)
	if !contains(documentTypes, docType) {
		return nil, fmt.Errorf("%s: %s", inputDocumentType, unknownKeyMessage(docType, "document type", documentTypes))
	}
	docPath := strings.TrimSpace(substituteRaw(stringOf(s.Inputs[inputDocumentPath]), text))
	if docPath == "" {
		ps.Refused = "documentPath is empty: there is no document to run"
		return []PlanStep{ps}, nil
	}
	if docType == DocumentTypeLocalPath {
		return d.renderLocalPath(ps, s, docPath, values, x)
	}
	name, version, err := ParseRef(docPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", inputDocumentPath, err)
	}
	src, err := x.resolve(name, version)
	if errors.Is(err, ErrNotFound) {
		ps.Refused = fmt.Sprintf("document %s cannot run: %v", docPath, err)
		return []PlanStep{ps}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolve document %s: %w", docPath, err)
	}
	chain := append(append([]string(nil), x.chain...), src.Name)
	if contains(x.chain, src.Name) {
		return nil, fmt.Errorf("aws:runDocument cycle: %s", strings.Join(chain, " -> "))
	}
	if len(chain) > MaxNesting+1 {
		return nil, fmt.Errorf("aws:runDocument nests %s deeper than %d documents: %s", src.Name, MaxNesting, strings.Join(chain, " -> "))
	}
	child, err := checked(src.Name, src.Content)
	if err != nil {
		return nil, err
	}
	raw, err := d.objectInput(s.Inputs[inputDocumentParameters], inputDocumentParameters, values)
	if err != nil {
		return nil, err
	}
	// A value the child runs as code may only be a constant or, whole, a parameter the
	// caller could itself run as code: text around a placeholder would turn data into code
	// by crossing a document boundary. A documentParameters
	// that is one StringMap placeholder is the caller's map, passed on as given: it is the
	// nested document's parameters by contract, as a commands parameter is code by contract.
	whole := isPlaceholder(s.Inputs[inputDocumentParameters])
	childCode := child.codeParameters()
	for _, k := range sortedKeys(raw) {
		if whole {
			break
		}
		if !childCode[k] {
			continue
		}
		walkStrings(raw[k], func(str string) {
			if p, ok := wholePlaceholder(str); ok && d.isCode(p) {
				return // the caller's code, passed on whole
			}
			for _, p := range placeholderNames(str) {
				if err == nil {
					err = fmt.Errorf("%s: %s: {{ %s }} would become code in document %s; pass it to a parameter the document uses as data", inputDocumentParameters, k, p, src.Name)
				}
			}
		})
	}
	if err != nil {
		return nil, err
	}
	params := raw
	if !whole {
		params, _ = substituteTree(raw, values).(map[string]any)
	}
	childValues, errs := resolveParameters(child, params)
	if len(errs) > 0 {
		return nil, fmt.Errorf("parameters of document %s: %w", src.Name, errors.Join(errs...))
	}
	steps, err := child.renderSteps(childValues, expansion{resolve: x.resolve, chain: chain})
	if err != nil {
		return nil, fmt.Errorf("document %s: %w", src.Name, err)
	}
	nestSteps(ps, steps, fmt.Sprintf("%s:%s %s", src.Name, src.Version, src.Hash))
	return steps, nil
}

// nestSteps makes a nested document's rendered steps the steps of the aws:runDocument
// step ps that ran it: named "<ps>.<step>", marked with origin, limited to ps's platforms,
// failing as ps does unless they say otherwise, and finally steps if ps is one.
func nestSteps(ps PlanStep, steps []PlanStep, origin string) {
	for i := range steps {
		c := &steps[i]
		c.Name = ps.Name + "." + c.Name
		if c.Document == "" {
			c.Document = origin
		}
		switch both := intersect(c.Platforms, ps.Platforms); {
		case len(c.Platforms) == 0:
			c.Platforms = ps.Platforms
		case len(ps.Platforms) == 0:
		case len(both) == 0:
			c.Skipped, c.SkipReason = true, fmt.Sprintf("precondition: step %s runs only on %v", ps.Name, ps.Platforms)
		default:
			c.Platforms = both
		}
		if c.OnFailure == "" {
			c.OnFailure = ps.OnFailure
		}
		// A nested finally step is an ordinary step of the flattened plan; the steps of a
		// finally step are finally steps, so that they run after an earlier step ended
		// the document, as the step they replace would.
		c.FinallyStep = ps.FinallyStep
	}
}

// intersect is the items of a that b holds too, in a's order.
func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// codeParameters are the parameters d runs as code: those whose placeholder makes up a
// whole runCommand element of a script step, or is passed on whole to a nested document.
func (d *Document) codeParameters() map[string]bool {
	code := map[string]bool{}
	for _, s := range d.MainSteps {
		var candidates []string
		switch s.Action {
		case ActionRunShellScript, ActionRunPowerShellScript:
			elements, _, _ := commandElements(s)
			candidates = elements
		case ActionRunDocument:
			if params, ok := s.Inputs[inputDocumentParameters].(map[string]any); ok {
				walkStrings(params, func(str string) { candidates = append(candidates, str) })
			} else if obj, err := d.objectInput(s.Inputs[inputDocumentParameters], inputDocumentParameters, nil); err == nil {
				walkStrings(obj, func(str string) { candidates = append(candidates, str) })
			}
		}
		for _, e := range candidates {
			if name, ok := wholePlaceholder(e); ok && d.isCode(name) {
				code[name] = true
			}
		}
	}
	return code
}

// renderSteps renders every step of d, expanding aws:runDocument steps.
func (d *Document) renderSteps(values map[string]resolved, x expansion) ([]PlanStep, error) {
	var out []PlanStep
	var errs []error
	for i, s := range d.MainSteps {
		ps, err := d.renderStep(s, i == len(d.MainSteps)-1, values)
		if err == nil && s.Action == ActionRunDocument {
			var expanded []PlanStep
			expanded, err = d.renderRunDocument(ps, s, values, x)
			out = append(out, expanded...)
		} else if err == nil {
			out = append(out, ps)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("step %s: %w", s.Name, err))
		}
	}
	return out, errors.Join(errs...)
}

// RunsItself names the first step of d that runs, by a literal
// documentPath, the registered document name itself: registered, such a
// document could only ever fail with a cycle, so registering it is refused.
// Steps whose path comes from a parameter are judged when they run.
func (d *Document) RunsItself(name string) (step string, ok bool) {
	for _, s := range d.MainSteps {
		if s.Action != ActionRunDocument || stringOf(s.Inputs[inputDocumentType]) != DocumentTypeSSM {
			continue
		}
		path := strings.TrimSpace(stringOf(s.Inputs[inputDocumentPath]))
		if placeholderRE.MatchString(path) {
			continue
		}
		if ref, _, err := ParseRef(path); err == nil && ref == name {
			return s.Name, true
		}
	}
	return "", false
}
