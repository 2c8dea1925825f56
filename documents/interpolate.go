package documents

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// placeholderRE matches a {{ name }} placeholder. Parameter Store references
// ({{ssm:...}}, {{ssm-secure:...}}) match too, only so that they can be refused by name.
// Text such as {{.Names}} (docker --format) is not a placeholder and is left alone.
var placeholderRE = regexp.MustCompile(`\{\{[ \t]*(ssm(?:-secure)?:[^{}\s]*|[A-Za-z0-9_]+)[ \t]*\}\}`)

// wholePlaceholderRE matches a value that is exactly one placeholder.
var wholePlaceholderRE = regexp.MustCompile(`^\s*\{\{[ \t]*([A-Za-z0-9_]+)[ \t]*\}\}\s*$`)

// wholePlaceholder returns the parameter name when s is exactly one placeholder.
func wholePlaceholder(s string) (string, bool) {
	m := wholePlaceholderRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// placeholderNames lists the names of the placeholders in s, in order.
func placeholderNames(s string) []string {
	var names []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	return names
}

// substituteRaw replaces every placeholder in s by the text of its value. It is for places
// that are data, never code: preconditions, working directories and timeouts.
func substituteRaw(s string, text func(name string) string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		return text(placeholderRE.FindStringSubmatch(m)[1])
	})
}

// EnvPrefix starts the name of the environment variable that carries a parameter's value
// to a script: parameter "message" is SSM_message, as with SSM's ENV_VAR interpolation.
const EnvPrefix = "SSM_"

// span is a placeholder to replace in a script template. A code span is a whole
// runCommand element made of a code parameter's placeholder: where the script is at the
// top level (not in quotes, a substitution or a here-document) the parameter's value is
// spliced in as script text; anywhere else it is data like any other placeholder.
type span struct {
	start, end int
	name       string
	code       bool
}

// scriptTemplate is a script assembled from document text, in which placeholders are to
// be replaced, and code given by parameters, which is taken verbatim (it still moves the
// quoting state, since the shell reads it as part of the same script).
type scriptTemplate struct {
	text  strings.Builder
	spans []span
}

func (t *scriptTemplate) addText(s string) {
	t.text.WriteString(s)
}

// addCodeSlot adds an element that is exactly the placeholder of code parameter name.
func (t *scriptTemplate) addCodeSlot(name, element string) {
	base := t.text.Len()
	t.spans = append(t.spans, span{start: base, end: base + len(element), name: name, code: true})
	t.text.WriteString(element)
}

func (t *scriptTemplate) addTemplate(s string) {
	base := t.text.Len()
	for _, loc := range placeholderRE.FindAllStringSubmatchIndex(s, -1) {
		t.spans = append(t.spans, span{start: base + loc[0], end: base + loc[1], name: s[loc[2]:loc[3]]})
	}
	t.text.WriteString(s)
}

// scanner is the part the shell and PowerShell renderers share: the text, the placeholders
// still ahead, the output and the parameters referenced.
type scanner struct {
	text  string
	spans []span
	next  int
	out   strings.Builder
	refs  map[string]bool
	code  func(name string) string // the script text of a code parameter
}

func newScanner(t *scriptTemplate, code func(string) string) scanner {
	return scanner{text: t.text.String(), spans: append([]span(nil), t.spans...), refs: map[string]bool{}, code: code}
}

// splice replaces code span sp, the one spanAt just returned, by its parameter's script
// text, which is then scanned like document text but holds no placeholders.
func (s *scanner) splice(sp span) {
	code := s.code(sp.name)
	delta := len(code) - (sp.end - sp.start)
	s.text = s.text[:sp.start] + code + s.text[sp.end:]
	s.spans = append(s.spans[:s.next], s.spans[s.next+1:]...)
	for k := s.next; k < len(s.spans); k++ {
		s.spans[k].start += delta
		s.spans[k].end += delta
	}
}

// spanAt returns the placeholder starting at i, if any.
func (s *scanner) spanAt(i int) (span, bool) {
	for s.next < len(s.spans) && s.spans[s.next].start < i {
		s.next++
	}
	if s.next < len(s.spans) && s.spans[s.next].start == i {
		return s.spans[s.next], true
	}
	return span{}, false
}

func (s *scanner) at(i int) byte {
	if i < len(s.text) {
		return s.text[i]
	}
	return 0
}

func (s *scanner) ref(name string) string {
	s.refs[name] = true
	return EnvPrefix + name
}

// POSIX shell.

type shellKind int

const (
	shTop      shellKind = iota
	shSingle             // '...'
	shDouble             // "..."
	shCmdSub             // $( ... )
	shArith              // $(( ... )) or (( ... ))
	shBacktick           // `...`
	shComment            // # ... end of line
)

type shellFrame struct {
	kind  shellKind
	depth int // open parentheses inside $( ) and $(( ))
}

type heredoc struct {
	delim     string
	quoted    bool // <<'EOF': the body is literal, nothing can be substituted
	stripTabs bool // <<-EOF
}

type shellRenderer struct {
	scanner
	isInteger func(name string) bool
	stack     []shellFrame
	pending   []heredoc
}

// renderShell replaces each placeholder of t by a reference to its SSM_<name> environment
// variable, quoted for where it stands:
//
//	outside quotes            "${SSM_name}"
//	inside "..."              ${SSM_name}
//	inside '...'              '"${SSM_name}"'   (close, double-quote the reference, reopen)
//	in a here-document body   ${SSM_name}
//	in a comment              ${SSM_name}       (inert)
//
// A value therefore reaches the shell only through parameter expansion, which never
// parses it as code. Placeholders are refused where that guarantee cannot hold: in a
// quoted here-document (nothing expands there) and in arithmetic (bash evaluates the
// expanded text), except for Integer parameters, whose values are checked digits. A
// backslash right before a placeholder stays a literal backslash.
// It returns the script and the names of the parameters it references.
func renderShell(t *scriptTemplate, code func(string) string, isInteger func(string) bool) (string, map[string]bool, error) {
	r := &shellRenderer{scanner: newScanner(t, code), isInteger: isInteger, stack: []shellFrame{{kind: shTop}}}
	for i := 0; i < len(r.text); {
		if sp, ok := r.spanAt(i); ok {
			if sp.code && len(r.stack) == 1 {
				r.splice(sp)
				continue
			}
			if err := r.placeholder(sp.name); err != nil {
				return "", nil, err
			}
			i = sp.end
			continue
		}
		c := r.text[i]
		switch r.top().kind {
		case shSingle:
			if c == '\'' {
				r.pop()
			}
			r.out.WriteByte(c)
			i++
		case shComment:
			if c == '\n' {
				r.pop() // the parent handles the newline: a here-document may start after it
				continue
			}
			r.out.WriteByte(c)
			i++
		case shDouble:
			i = r.double(i)
		default:
			var err error
			if i, err = r.unquoted(i); err != nil {
				return "", nil, err
			}
		}
	}
	return r.out.String(), r.refs, nil
}

func (r *shellRenderer) top() *shellFrame { return &r.stack[len(r.stack)-1] }

func (r *shellRenderer) push(k shellKind) { r.stack = append(r.stack, shellFrame{kind: k}) }

func (r *shellRenderer) pop() {
	if len(r.stack) > 1 {
		r.stack = r.stack[:len(r.stack)-1]
	}
}

func (r *shellRenderer) placeholder(name string) error {
	env := r.ref(name)
	switch r.top().kind {
	case shSingle:
		r.out.WriteString(`'"${` + env + `}"'`)
	case shDouble, shComment:
		r.out.WriteString("${" + env + "}")
	case shArith:
		if !r.isInteger(name) {
			return fmt.Errorf("placeholder {{ %s }} is inside an arithmetic expression, where the shell would evaluate its value; only Integer parameters may stand there", name)
		}
		r.out.WriteString("${" + env + "}")
	case shBacktick:
		// Double quotes inside backquotes inside double quotes are undefined in POSIX sh.
		if len(r.stack) > 1 && r.stack[len(r.stack)-2].kind == shDouble {
			r.out.WriteString("${" + env + "}")
		} else {
			r.out.WriteString(`"${` + env + `}"`)
		}
	default:
		r.out.WriteString(`"${` + env + `}"`)
	}
	return nil
}

// escape copies a backslash and the byte it escapes. Before a placeholder the backslash
// is written as a literal backslash, so that it cannot disturb the reference's quoting.
func (r *shellRenderer) escape(i int) int {
	if _, ok := r.spanAt(i + 1); ok {
		r.out.WriteString(`\\`)
		return i + 1
	}
	if i+1 < len(r.text) {
		r.out.WriteString(r.text[i : i+2])
		return i + 2
	}
	r.out.WriteByte('\\')
	return i + 1
}

func (r *shellRenderer) double(i int) int {
	c := r.text[i]
	switch {
	case c == '\\':
		return r.escape(i)
	case c == '"':
		r.pop()
	case c == '`':
		r.push(shBacktick)
	case c == '$' && r.at(i+1) == '(':
		return r.openParen(i)
	}
	r.out.WriteByte(c)
	return i + 1
}

// openParen handles "$(" at i: a command substitution, or arithmetic for "$((".
func (r *shellRenderer) openParen(i int) int {
	if r.at(i+2) == '(' {
		r.push(shArith)
		r.out.WriteString("$((")
		return i + 3
	}
	r.push(shCmdSub)
	r.out.WriteString("$(")
	return i + 2
}

// wordStart reports whether i begins a shell word (where '#' starts a comment).
func (r *shellRenderer) wordStart(i int) bool {
	return i == 0 || strings.IndexByte(" \t\n;&|()<>", r.text[i-1]) >= 0
}

// unquoted handles one byte outside quotes: at top level, in $( ), in $(( )) or in `...`.
func (r *shellRenderer) unquoted(i int) (int, error) {
	c := r.text[i]
	f := r.top()
	switch {
	case c == '\\':
		return r.escape(i), nil
	case c == '\'':
		r.push(shSingle)
	case c == '"':
		r.push(shDouble)
	case c == '`':
		if f.kind == shBacktick {
			r.pop()
		} else {
			r.push(shBacktick)
		}
	case c == '$' && r.at(i+1) == '(':
		return r.openParen(i), nil
	case c == '(' && r.at(i+1) == '(' && f.kind != shArith && r.wordStart(i):
		r.push(shArith) // bash's (( ... )) command
		r.out.WriteString("((")
		return i + 2, nil
	case c == '(' && (f.kind == shCmdSub || f.kind == shArith):
		f.depth++
	case c == ')' && f.kind == shCmdSub:
		if f.depth == 0 {
			r.pop()
		} else {
			f.depth--
		}
	case c == ')' && f.kind == shArith:
		switch {
		case f.depth > 0:
			f.depth--
		case r.at(i+1) == ')':
			r.pop()
			r.out.WriteString("))")
			return i + 2, nil
		}
	case c == '#' && f.kind != shArith && r.wordStart(i):
		r.push(shComment)
	case c == '<' && r.at(i+1) == '<' && f.kind != shArith:
		return r.heredocOperator(i), nil
	case c == '\n' && len(r.pending) > 0 && f.kind != shArith:
		r.out.WriteByte(c)
		return r.heredocBodies(i + 1)
	}
	r.out.WriteByte(c)
	return i + 1, nil
}

// heredocOperator records the here-document that "<<" or "<<-" at i opens; its body
// starts after the next unquoted newline. The delimiter word itself is scanned normally.
func (r *shellRenderer) heredocOperator(i int) int {
	if r.at(i+2) == '<' { // bash here-string <<<: no body
		r.out.WriteString("<<<")
		return i + 3
	}
	h := heredoc{}
	j := i + 2
	if r.at(j) == '-' {
		h.stripTabs = true
		j++
	}
	r.out.WriteString(r.text[i:j])
	k := j
	for k < len(r.text) && (r.text[k] == ' ' || r.text[k] == '\t') {
		k++
	}
	var delim strings.Builder
	for k < len(r.text) && strings.IndexByte(" \t\n;&|()<>", r.text[k]) < 0 {
		switch c := r.text[k]; c {
		case '\'', '"':
			h.quoted = true
			end := strings.IndexByte(r.text[k+1:], c)
			if end < 0 {
				end = len(r.text) - k - 1
			}
			delim.WriteString(r.text[k+1 : k+1+end])
			k += end + 2
		case '\\':
			h.quoted = true
			if k+1 < len(r.text) {
				delim.WriteByte(r.text[k+1])
			}
			k += 2
		default:
			delim.WriteByte(c)
			k++
		}
	}
	if delim.Len() > 0 {
		h.delim = delim.String()
		r.pending = append(r.pending, h)
	}
	return j
}

// heredocBodies copies the bodies of the pending here-documents, starting at line start i.
func (r *shellRenderer) heredocBodies(i int) (int, error) {
	for _, h := range r.pending {
		for i < len(r.text) {
			lineEnd := strings.IndexByte(r.text[i:], '\n')
			if lineEnd < 0 {
				lineEnd = len(r.text)
			} else {
				lineEnd += i
			}
			line := r.text[i:lineEnd]
			cmp := line
			if h.stripTabs {
				cmp = strings.TrimLeft(line, "\t")
			}
			done := cmp == h.delim
			if done {
				r.out.WriteString(line)
			} else if err := r.heredocLine(h, i, lineEnd); err != nil {
				return 0, err
			}
			i = lineEnd
			if i < len(r.text) {
				r.out.WriteByte('\n')
				i++
			}
			if done {
				break
			}
		}
	}
	r.pending = nil
	return i, nil
}

func (r *shellRenderer) heredocLine(h heredoc, i, end int) error {
	for i < end {
		if sp, ok := r.spanAt(i); ok {
			if h.quoted {
				return fmt.Errorf("placeholder {{ %s }} is inside a quoted here-document (<<'%s'), where it cannot expand; use an unquoted delimiter", sp.name, h.delim)
			}
			r.out.WriteString("${" + r.ref(sp.name) + "}")
			i = sp.end
			continue
		}
		if r.text[i] == '\\' && !h.quoted && i+1 < end {
			i = r.escape(i)
			continue
		}
		r.out.WriteByte(r.text[i])
		i++
	}
	return nil
}

// PowerShell.

type psKind int

const (
	psTop          psKind = iota
	psSubExpr             // $( ... )
	psDouble              // "..."
	psSingle              // '...'
	psComment             // # ... end of line
	psBlockComment        // <# ... #>
	psHereDouble          // @" ... "@
	psHereSingle          // @' ... '@
)

type psFrame struct {
	kind  psKind
	depth int
	// A single-quoted string is held back until it closes: if it holds a placeholder it is
	// written as the equivalent double-quoted string, which can expand the reference.
	open      string
	raw       strings.Builder
	converted strings.Builder
	hasRef    bool
}

type psRenderer struct {
	scanner
	stack []*psFrame
}

func isPSSingleQuote(r rune) bool {
	return r == '\'' || r == '\u2018' || r == '\u2019' || r == '\u201a' || r == '\u201b'
}

func isPSDoubleQuote(r rune) bool {
	return r == '"' || r == '\u201c' || r == '\u201d' || r == '\u201e'
}

// renderPowerShell replaces each placeholder of t by ${env:SSM_name}, which PowerShell
// expands outside quotes, in double-quoted strings and in double-quoted here-strings
// without ever parsing the value as code. A single-quoted string that holds a placeholder
// is rewritten as the equivalent double-quoted string (its literal text escaped with
// backticks) so the reference expands inside it. PowerShell's typographic quotes count as
// quotes. Placeholders in single-quoted here-strings (@'...'@) are refused: nothing
// expands there. A backtick right before a placeholder stays a literal backtick.
func renderPowerShell(t *scriptTemplate, code func(string) string) (string, map[string]bool, error) {
	r := &psRenderer{scanner: newScanner(t, code), stack: []*psFrame{{kind: psTop}}}
	for i := 0; i < len(r.text); {
		if sp, ok := r.spanAt(i); ok {
			if sp.code && len(r.stack) == 1 {
				r.splice(sp)
				continue
			}
			if err := r.placeholder(sp.name); err != nil {
				return "", nil, err
			}
			i = sp.end
			continue
		}
		c, size := utf8.DecodeRuneInString(r.text[i:])
		f := r.top()
		switch f.kind {
		case psSingle:
			i = r.single(i, c, size)
		case psComment:
			if c == '\n' {
				r.pop()
			}
			r.write(r.text[i : i+size])
			i += size
		case psBlockComment:
			if c == '#' && r.at(i+1) == '>' {
				r.pop()
				r.write("#>")
				i += 2
				continue
			}
			r.write(r.text[i : i+size])
			i += size
		case psHereDouble, psHereSingle:
			i = r.hereString(i, c, size)
		case psDouble:
			i = r.double(i, c, size)
		default:
			i = r.code(i, c, size)
		}
	}
	// An unterminated single-quoted string is flushed in its final form.
	for len(r.stack) > 1 {
		r.pop()
	}
	return r.out.String(), r.refs, nil
}

func (r *psRenderer) top() *psFrame { return r.stack[len(r.stack)-1] }

func (r *psRenderer) push(k psKind) *psFrame {
	f := &psFrame{kind: k}
	r.stack = append(r.stack, f)
	return f
}

func (r *psRenderer) write(s string) { r.out.WriteString(s) }

// pop closes the innermost frame; a single-quoted string is flushed in its final form.
func (r *psRenderer) pop() {
	if len(r.stack) <= 1 {
		return
	}
	f := r.top()
	r.stack = r.stack[:len(r.stack)-1]
	if f.kind == psSingle {
		if f.hasRef {
			r.write(`"` + f.converted.String() + `"`)
		} else {
			r.write(f.open + f.raw.String())
		}
	}
}

func (r *psRenderer) placeholder(name string) error {
	ref := "${env:" + r.ref(name) + "}"
	switch f := r.top(); f.kind {
	case psHereSingle:
		return fmt.Errorf("placeholder {{ %s }} is inside a single-quoted here-string (@'...'@), where it cannot expand; use @\"...\"@", name)
	case psSingle:
		f.hasRef = true
		f.raw.WriteString(ref)
		f.converted.WriteString(ref)
	default:
		r.write(ref)
	}
	return nil
}

// escape copies a backtick and the character it escapes; before a placeholder the
// backtick is doubled into a literal backtick.
func (r *psRenderer) escape(i int) int {
	if _, ok := r.spanAt(i + 1); ok {
		r.write("``")
		return i + 1
	}
	_, size := utf8.DecodeRuneInString(r.text[i+1:])
	end := min(i+1+size, len(r.text))
	r.write(r.text[i:end])
	return end
}

func (r *psRenderer) single(i int, c rune, size int) int {
	f := r.top()
	if !isPSSingleQuote(c) {
		f.raw.WriteString(r.text[i : i+size])
		f.converted.WriteString(psDoubleEscape(c))
		return i + size
	}
	next, nsize := utf8.DecodeRuneInString(r.text[i+size:])
	if isPSSingleQuote(next) { // '' is a literal quote
		f.raw.WriteString(r.text[i : i+size+nsize])
		f.converted.WriteRune(c)
		return i + size + nsize
	}
	f.raw.WriteString(r.text[i : i+size])
	r.pop()
	return i + size
}

// psDoubleEscape is the text of c inside a double-quoted PowerShell string.
func psDoubleEscape(c rune) string {
	if c == '`' || c == '$' || isPSDoubleQuote(c) {
		return "`" + string(c)
	}
	return string(c)
}

func (r *psRenderer) double(i int, c rune, size int) int {
	switch {
	case c == '`':
		return r.escape(i)
	case c == '$' && r.at(i+1) == '(':
		r.push(psSubExpr)
		r.write("$(")
		return i + 2
	case isPSDoubleQuote(c):
		next, nsize := utf8.DecodeRuneInString(r.text[i+size:])
		if isPSDoubleQuote(next) { // "" is a literal quote
			r.write(r.text[i : i+size+nsize])
			return i + size + nsize
		}
		r.pop()
	}
	r.write(r.text[i : i+size])
	return i + size
}

func (r *psRenderer) hereString(i int, c rune, size int) int {
	f := r.top()
	term := `"@`
	if f.kind == psHereSingle {
		term = `'@`
	}
	if i > 0 && r.text[i-1] == '\n' && strings.HasPrefix(r.text[i:], term) {
		r.pop()
		r.write(term)
		return i + 2
	}
	if f.kind == psHereDouble && c == '`' {
		return r.escape(i)
	}
	r.write(r.text[i : i+size])
	return i + size
}

// psTokenStart reports whether i begins a token (where '#' starts a comment).
func (r *psRenderer) psTokenStart(i int) bool {
	return i == 0 || strings.IndexByte(" \t\r\n;|(){}=,", r.text[i-1]) >= 0
}

// code handles one character outside strings: at top level or in $( ).
func (r *psRenderer) code(i int, c rune, size int) int {
	f := r.top()
	switch {
	case c == '`':
		return r.escape(i)
	case isPSSingleQuote(c):
		r.push(psSingle).open = r.text[i : i+size]
		return i + size
	case isPSDoubleQuote(c):
		r.push(psDouble)
	case c == '@' && r.hereStringOpens(i):
		if r.at(i+1) == '"' {
			r.push(psHereDouble)
		} else {
			r.push(psHereSingle)
		}
		r.write(r.text[i : i+2])
		return i + 2
	case c == '<' && r.at(i+1) == '#':
		r.push(psBlockComment)
		r.write("<#")
		return i + 2
	case c == '#' && r.psTokenStart(i):
		r.push(psComment)
	case c == '$' && r.at(i+1) == '(':
		r.push(psSubExpr)
		r.write("$(")
		return i + 2
	case c == '(' && f.kind == psSubExpr:
		f.depth++
	case c == ')' && f.kind == psSubExpr:
		if f.depth == 0 {
			r.write(")")
			r.pop()
			return i + 1
		}
		f.depth--
	}
	r.write(r.text[i : i+size])
	return i + size
}

// hereStringOpens reports whether @" or @' at i opens a here-string: the quote must end its line.
func (r *psRenderer) hereStringOpens(i int) bool {
	q := r.at(i + 1)
	if q != '"' && q != '\'' {
		return false
	}
	rest := r.text[i+2:]
	if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
		rest = rest[:nl]
	} else {
		return false
	}
	return strings.TrimRight(rest, " \t\r") == ""
}
