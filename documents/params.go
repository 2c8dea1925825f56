package documents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parameter types of SSM Command documents. They decide how a caller's value is read and
// which constraints apply to it.
const (
	TypeString     = "String"
	TypeStringList = "StringList"
	TypeInteger    = "Integer"
	TypeBoolean    = "Boolean"
	TypeStringMap  = "StringMap"
	TypeMapList    = "MapList"
)

// InterpolationEnvVar is the Parameter.InterpolationType that marks a parameter as data
// only: always exported as SSM_<name>, never code.
const InterpolationEnvVar = "ENV_VAR"

var parameterTypes = []string{TypeString, TypeStringList, TypeInteger, TypeBoolean, TypeStringMap, TypeMapList}

// parameterNameRE keeps names usable as the environment variable SSM_<name>.
var parameterNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// checkDeclaration reports every problem of one parameter declaration, its default included.
func (d *Document) checkDeclaration(r *report, name string, p Parameter) {
	where := "parameter " + shortText(name)
	add := func(format string, args ...any) {
		r.errs = append(r.errs, fmt.Errorf(where+": "+format, args...))
	}
	before := len(r.errs)
	if !parameterNameRE.MatchString(name) {
		add("name must be letters, digits and underscores (it becomes the environment variable %s%s)", EnvPrefix, shortText(name))
	}
	switch {
	case p.Type == "":
		add("type is required (one of %s)", strings.Join(parameterTypes, ", "))
		return
	case p.Type == "Array":
		add("type Array is not a type of SSM parameters (SSM refuses it too); a list of strings is a StringList")
		return
	case !contains(parameterTypes, p.Type):
		add("%s", unknownKeyMessage(p.Type, "type", parameterTypes))
		return
	}
	if p.AllowedPattern != "" {
		if _, err := compilePattern(p.AllowedPattern); err != nil {
			add("allowedPattern: %v", err)
		}
	}
	if p.InterpolationType != "" && p.InterpolationType != InterpolationEnvVar {
		add("interpolationType must be %s or absent, got %s", InterpolationEnvVar, quoteShort(p.InterpolationType))
	}
	isList := p.Type == TypeStringList || p.Type == TypeMapList
	hasChars := p.Type == TypeString || p.Type == TypeStringList
	checkBounds := func(what string, lo, hi *int, applies bool, appliesTo string) {
		if (lo != nil || hi != nil) && !applies {
			add("min%s/max%s apply only to %s parameters", what, what, appliesTo)
			return
		}
		if lo != nil && *lo < 0 {
			add("min%s must not be negative", what)
		}
		if hi != nil && *hi < 0 {
			add("max%s must not be negative", what)
		}
		if lo != nil && hi != nil && *lo > *hi {
			add("min%s %d is greater than max%s %d", what, *lo, what, *hi)
		}
	}
	checkBounds("Items", p.MinItems, p.MaxItems, isList, "StringList and MapList")
	checkBounds("Chars", p.MinChars, p.MaxChars, hasChars, "String and StringList")
	if len(p.AllowedValues) > 0 && (p.Type == TypeStringMap || p.Type == TypeMapList) {
		add("allowedValues do not apply to %s parameters", p.Type)
	}
	for i, v := range p.AllowedValues {
		switch v.(type) {
		case nil, map[string]any, []any:
			add("allowedValues[%d] must be a string, number or boolean, got %s", i, kindOf(v))
		}
	}
	switch ref, isRef := parameterStoreDefault(p.Default); {
	case p.Default == nil || len(r.errs) > before:
	case isRef:
		r.warn(where, 0, "default %s reads Parameter Store, which Stead does not have: give %s a value when the document runs", ref, shortText(name))
	case containsText(p.Default, "{{resolve:"):
		add("default: {{resolve:...}} is a CloudFormation dynamic reference, which only CloudFormation resolves (in templates); give the value when the document runs")
	case containsReference(p.Default):
		add("default: a Parameter Store reference in a default must be the whole value and of the form {{ssm:NAME}}; a SecureString cannot be a default (SSM refuses it too)")
	default:
		if _, verrs := resolveValue(p, p.Default); len(verrs) > 0 {
			for _, e := range verrs {
				add("default %v", e)
			}
		}
	}
}

// parameterStoreDefaultRE matches a whole value that reads Parameter Store, as SSM allows
// in defaults: {{ssm:NAME}} or {{ssm:NAME:VERSION}}.
var parameterStoreDefaultRE = regexp.MustCompile(`^\{\{[ \t]*ssm:[^{}\s]+[ \t]*\}\}$`)

// parameterStoreDefault returns the reference when v, a default, is one Parameter Store
// reference (alone or as the only item of a list).
func parameterStoreDefault(v any) (string, bool) {
	s, ok := unwrapSingle(v).(string)
	if !ok || !parameterStoreDefaultRE.MatchString(strings.TrimSpace(s)) {
		return "", false
	}
	return strings.TrimSpace(s), true
}

// containsText reports whether any string in v contains sub, ignoring spaces.
func containsText(v any, sub string) bool {
	found := false
	walkStrings(v, func(s string) {
		found = found || strings.Contains(strings.ReplaceAll(s, " ", ""), sub)
	})
	return found
}

func compilePattern(pattern string) (*regexp.Regexp, error) {
	// SSM matches allowedPattern against the whole value: its own patterns rely on it.
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid regular expression: %w", pattern, err)
	}
	return re, nil
}

// resolveParameters returns the value of every declared parameter (given, or default),
// and every violation: unknown names, missing required values, wrong types, constraints.
func resolveParameters(doc *Document, given map[string]any) (map[string]resolved, []error) {
	var errs []error
	declared := sortedKeys(doc.Parameters)
	for _, name := range sortedKeys(given) {
		if _, ok := doc.Parameters[name]; !ok {
			if len(declared) == 0 {
				errs = append(errs, fmt.Errorf("parameter %s: unknown parameter; the document declares none", name))
			} else {
				errs = append(errs, fmt.Errorf("parameter %s", unknownKeyMessage(name, "parameter", declared)))
			}
		}
	}
	values := make(map[string]resolved, len(doc.Parameters))
	total := 0
	for _, name := range declared {
		p := doc.Parameters[name]
		v, ok := given[name]
		if !ok || v == nil {
			if p.Default == nil {
				errs = append(errs, fmt.Errorf("parameter %s: a value is required (the parameter has no default)", name))
				continue
			}
			if ref, isRef := parameterStoreDefault(p.Default); isRef {
				errs = append(errs, fmt.Errorf("parameter %s: a value is required: its default %s reads Parameter Store, which Stead does not have", name, ref))
				continue
			}
			v = p.Default
		}
		r, verrs := resolveValue(p, v)
		for _, e := range verrs {
			errs = append(errs, fmt.Errorf("parameter %s: %w", name, e))
		}
		if len(verrs) == 0 {
			values[name] = r
			total += len(r.text)
		}
	}
	if total > MaxParametersBytes {
		errs = append(errs, fmt.Errorf("parameters: values are %d bytes together, more than the limit of %d", total, MaxParametersBytes))
	}
	return values, errs
}

// resolveValue reads v as a value of p's type and checks p's constraints on it. The value
// is a string, []string, int64, bool, map[string]any or []any of maps.
func resolveValue(p Parameter, v any) (resolved, []error) {
	// A reference is checked as a reference: its value exists only on the worker, so the
	// declared constraints cannot apply to it.
	if name, ok, err := secretReference(p, v); err != nil {
		return resolved{}, []error{err}
	} else if ok {
		ref := SecretRefText(name)
		return resolved{value: ref, text: ref, secret: true}, nil
	}
	value, err := coerce(p.Type, v)
	if err != nil {
		return resolved{}, []error{err}
	}
	text, err := valueText(value)
	if err != nil {
		return resolved{}, []error{err}
	}
	if len(text) > MaxParameterValueBytes {
		return resolved{}, []error{fmt.Errorf("value is %d bytes, more than the limit of %d", len(text), MaxParameterValueBytes)}
	}
	var errs []error
	if hasNUL(value) {
		errs = append(errs, errors.New("value contains a NUL byte"))
	}
	var items []string // the strings the per-item constraints apply to
	switch x := value.(type) {
	case string:
		items = []string{x}
	case []string:
		items = x
		errs = append(errs, checkCount("items", len(x), p.MinItems, p.MaxItems)...)
	case []any:
		errs = append(errs, checkCount("items", len(x), p.MinItems, p.MaxItems)...)
	case int64:
		items = []string{strconv.FormatInt(x, 10)}
	case bool:
		items = []string{strconv.FormatBool(x)}
	}
	if p.Type == TypeString || p.Type == TypeStringList {
		for i, s := range items {
			for _, e := range checkCount("characters", utf8.RuneCountInString(s), p.MinChars, p.MaxChars) {
				errs = append(errs, itemError(p.Type, i, e))
			}
		}
	}
	if len(p.AllowedValues) > 0 {
		allowed := make([]string, len(p.AllowedValues))
		for i, a := range p.AllowedValues {
			allowed[i] = scalarText(a)
		}
		for i, s := range items {
			if !contains(allowed, s) {
				errs = append(errs, itemError(p.Type, i, fmt.Errorf("value %s is not one of the allowed values %s", quoteShort(s), quoteList(allowed))))
			}
		}
	}
	if p.AllowedPattern != "" {
		if re, err := compilePattern(p.AllowedPattern); err == nil {
			for i, s := range items {
				if !re.MatchString(s) {
					// The value is not repeated: it may be a secret.
					errs = append(errs, itemError(p.Type, i, fmt.Errorf("value does not match allowedPattern %q", p.AllowedPattern)))
				}
			}
		}
	}
	return resolved{value: value, text: text, secret: p.Secret}, errs
}

func itemError(typ string, i int, err error) error {
	if typ == TypeStringList {
		return fmt.Errorf("item %d: %w", i, err)
	}
	return err
}

func checkCount(what string, n int, lo, hi *int) []error {
	var errs []error
	if lo != nil && n < *lo {
		errs = append(errs, fmt.Errorf("has %d %s, fewer than the minimum %d", n, what, *lo))
	}
	if hi != nil && n > *hi {
		errs = append(errs, fmt.Errorf("has %d %s, more than the maximum %d", n, what, *hi))
	}
	return errs
}

func quoteShort(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "..."
	}
	return strconv.Quote(s)
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// coerce reads v, as it comes from a document default, the CLI or a JSON round trip
// (float64, []any, map[string]any), as a value of type typ. SSM passes every value as a
// list of strings, so a one-item list stands for a scalar.
func coerce(typ string, v any) (any, error) {
	switch typ {
	case TypeString:
		v = unwrapSingle(v)
		if s, ok := scalarString(v); ok {
			return s, nil
		}
		return nil, fmt.Errorf("must be a string, got %s", describe(v))
	case TypeStringList:
		if s, ok := scalarString(v); ok {
			return []string{s}, nil
		}
		list, ok := asList(v)
		if !ok {
			return nil, fmt.Errorf("must be a list of strings, got %s", describe(v))
		}
		out := make([]string, len(list))
		for i, item := range list {
			s, ok := scalarString(item)
			if !ok {
				return nil, fmt.Errorf("item %d: must be a string, got %s", i, describe(item))
			}
			out[i] = s
		}
		return out, nil
	case TypeInteger:
		v = unwrapSingle(v)
		if n, ok := intOf(v); ok {
			return n, nil
		}
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("must be an integer, got %s", describe(v))
	case TypeBoolean:
		v = unwrapSingle(v)
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, fmt.Errorf("must be true or false, got %s", describe(v))
	case TypeStringMap:
		if s, ok := unwrapSingle(v).(string); ok {
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
				return nil, errors.New("must be a mapping (a JSON object when given as text)")
			}
			return m, nil
		}
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
		return nil, fmt.Errorf("must be a mapping, got %s", describe(v))
	case TypeMapList:
		if s, ok := unwrapSingle(v).(string); ok {
			var l []any
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				return nil, errors.New("must be a list of mappings (a JSON array when given as text)")
			}
			v = l
		}
		list, ok := asList(v)
		if !ok {
			return nil, fmt.Errorf("must be a list of mappings, got %s", describe(v))
		}
		for i, item := range list {
			if _, ok := item.(map[string]any); !ok {
				return nil, fmt.Errorf("item %d: must be a mapping, got %s", i, describe(item))
			}
		}
		return list, nil
	default:
		return nil, fmt.Errorf("has unknown type %q", typ)
	}
}

func unwrapSingle(v any) any {
	if l, ok := asList(v); ok && len(l) == 1 {
		return l[0]
	}
	return v
}

func asList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// scalarString is the text of a string, number or boolean.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", false
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	if n, ok := intOf(v); ok {
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

// intOf reads integral numbers of any Go type, including float64 from a JSON round trip.
func intOf(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int64(x), true
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
	}
	return 0, false
}

// describe names a caller's value for an error message without repeating it.
func describe(v any) string {
	switch v.(type) {
	case []string:
		return "a list"
	case map[string]string:
		return "a mapping"
	case json.Number, float32, int, int8, int16, int32, uint, uint8, uint16, uint32, uint64:
		return "a number"
	}
	return kindOf(v)
}

func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []string:
		for _, s := range x {
			if hasNUL(s) {
				return true
			}
		}
	case []any:
		for _, item := range x {
			if hasNUL(item) {
				return true
			}
		}
	case map[string]any:
		for k, item := range x {
			if hasNUL(k) || hasNUL(item) {
				return true
			}
		}
	}
	return false
}

// resolved is a parameter value read as its type, and its text as a script sees it:
// strings as they are, numbers and booleans in their usual text, lists and mappings as
// compact JSON.
type resolved struct {
	value any
	text  string
	// secret is set for a {{ssm-secure:NAME}} reference and for a parameter declared
	// secret: the value may reach a script only through its environment variable.
	secret bool
}

func valueText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("value cannot be written as JSON: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// maxParameterFlagBytes bounds the raw --parameters text: room for MaxParametersBytes of
// values even when JSON escaping inflates them.
const maxParameterFlagBytes = 4 * MaxParametersBytes

// ParseParameterFlags reads the CLI's --parameters values. Each value is either a JSON
// object, whose keys are merged in, or key=value; repeating a key=value appends, which is
// how a StringList is given one item at a time. A name given by two JSON objects, or by
// JSON and key=value, is an error, as is a malformed value; errors are one line.
func ParseParameterFlags(values []string) (map[string]any, error) {
	out := map[string]any{}
	fromJSON := map[string]bool{}
	size := 0
	for _, raw := range values {
		size += len(raw)
	}
	// Bounds the text before it is decoded; the values are bounded once they are read.
	if size > maxParameterFlagBytes {
		return nil, fmt.Errorf("parameters: %d bytes given, more than the limit of %d", size, maxParameterFlagBytes)
	}
	for _, raw := range values {
		trimmed := strings.TrimSpace(raw)
		if strings.HasPrefix(trimmed, "{") {
			var obj map[string]any
			dec := json.NewDecoder(strings.NewReader(trimmed))
			if err := dec.Decode(&obj); err != nil {
				return nil, fmt.Errorf("parameters %s: not a JSON object: %s", quoteShort(trimmed), oneLine(err.Error()))
			}
			if dec.More() {
				return nil, fmt.Errorf("parameters %s: unexpected text after the JSON object", quoteShort(trimmed))
			}
			for _, k := range sortedKeys(obj) {
				if _, dup := out[k]; dup {
					return nil, fmt.Errorf("parameters: %s is given more than once", k)
				}
				if !parameterNameRE.MatchString(k) {
					return nil, fmt.Errorf("parameters: %s is not a valid parameter name (letters, digits, underscores)", quoteShort(k))
				}
				out[k] = obj[k]
				fromJSON[k] = true
			}
			continue
		}
		key, value, ok := strings.Cut(raw, "=")
		key = strings.TrimSpace(key)
		if !ok {
			return nil, fmt.Errorf("parameters %s: expected name=value or a JSON object", quoteShort(raw))
		}
		if !parameterNameRE.MatchString(key) {
			return nil, fmt.Errorf("parameters %s: %s is not a valid parameter name (letters, digits, underscores)", quoteShort(raw), quoteShort(key))
		}
		if fromJSON[key] {
			return nil, fmt.Errorf("parameters: %s is given more than once", key)
		}
		switch prev := out[key].(type) {
		case nil:
			out[key] = value
		case string:
			out[key] = []string{prev, value}
		case []string:
			out[key] = append(prev, value)
		}
	}
	return out, nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
