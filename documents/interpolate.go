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
	text     string
	spans    []span
	next     int
	out      strings.Builder
	refs     map[string]bool
	code     func(name string) string // the script text of a code parameter
	warnings []scriptWarning
	// patches rewrite output already written once later text shows it must change (the
	// delimiter of a quoted here-document that turns out to hold placeholders).
	patches []patch
}

// scriptWarning is a place in a script that Stead renders differently from SSM, or that
// probably does not mean what its author wanted.
type scriptWarning struct {
	line    int
	message string
}

// patch replaces n bytes of output at offset at by text.
type patch struct {
	at, n int
	text  string
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

// spanStarting returns the placeholder starting at j, at or after the current one,
// without moving past any.
func (s *scanner) spanStarting(j int) (span, bool) {
	for _, sp := range s.spans[s.next:] {
		if sp.start == j {
			return sp, true
		}
		if sp.start > j {
			break
		}
	}
	return span{}, false
}

// wordEnd is where the word starting at i ends: at one of delims outside placeholders.
func (s *scanner) wordEnd(i int, delims string) int {
	for i < len(s.text) && strings.IndexByte(delims, s.text[i]) < 0 {
		if sp, ok := s.spanStarting(i); ok {
			i = sp.end
			continue
		}
		i++
	}
	return i
}

// spanIn reports whether a placeholder starts in text[from:to].
func (s *scanner) spanIn(from, to int) bool {
	for _, sp := range s.spans[s.next:] {
		if sp.start >= to {
			return false
		}
		if sp.start >= from {
			return true
		}
	}
	return false
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

// warn records a warning about the script line holding text[i].
func (s *scanner) warn(i int, format string, args ...any) {
	line := strings.Count(s.text[:min(i, len(s.text))], "\n") + 1
	s.warnings = append(s.warnings, scriptWarning{line: line, message: fmt.Sprintf(format, args...)})
}

// result is the output with its patches applied.
func (s *scanner) result() string {
	out := s.out.String()
	for k := len(s.patches) - 1; k >= 0; k-- {
		p := s.patches[k]
		out = out[:p.at] + p.text + out[p.at+p.n:]
	}
	return out
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
	// In the frames that hold commands (top level, $( ), `...`): cmdPos is set where the
	// next word would be a command name; inWord while a word is being read; cmdWord when
	// that word is the command name.
	cmdPos, inWord, cmdWord bool
}

type heredoc struct {
	delim     string
	quoted    bool // <<'EOF': the body is literal, nothing can be substituted
	stripTabs bool // <<-EOF
	// outAt and outLen locate the delimiter word in the output, so that a quoted
	// delimiter can be rewritten bare; outAt is -1 when it cannot be.
	outAt, outLen int
	// converted is set while the body of a quoted here-document that holds placeholders
	// is written as the body of an unquoted one (its literal text escaped).
	converted bool
}

type shellRenderer struct {
	scanner
	arith   func(name string) error
	stack   []shellFrame
	pending []heredoc
}

// renderShell replaces each placeholder of t by a reference to its SSM_<name> environment
// variable, written so that the script means what SSM's textual substitution means, as
// far as that can hold without the value ever being parsed as shell code:
//
//	an argument              ${SSM_name}         split into words and globbed, as SSM's text is
//	a command name           "${SSM_name}"       one word: a value never becomes a command line
//	inside "..."             ${SSM_name}
//	inside '...'             '"${SSM_name}"'     (close, double-quote the reference, reopen)
//	in a here-document body  ${SSM_name}
//	in a quoted one          ${SSM_name}         the here-document is made unquoted and its text escaped
//	in a comment             ${SSM_name}         (inert)
//	~{{ name }}              the home directory of the user the value names
//	${{ name }}              the variable the value names
//
// The value of ~ and $ forms is looked up only when it is a plain user or variable name;
// otherwise it stays literal text. In arithmetic (bash evaluates the expanded text) a
// placeholder is refused unless arith allows it. A backslash right before a placeholder
// stays a literal backslash. It returns the script, the names of the parameters it
// references and its warnings.
func renderShell(t *scriptTemplate, code func(string) string, arith func(string) error) (string, map[string]bool, []scriptWarning, error) {
	r := &shellRenderer{scanner: newScanner(t, code), arith: arith, stack: []shellFrame{{kind: shTop, cmdPos: true}}}
	for i := 0; i < len(r.text); {
		if sp, ok := r.spanAt(i); ok {
			if sp.code && len(r.stack) == 1 {
				r.splice(sp)
				continue
			}
			r.startWord(i)
			if err := r.placeholder(sp.name); err != nil {
				return "", nil, nil, err
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
				return "", nil, nil, err
			}
		}
	}
	return r.result(), r.refs, r.warnings, nil
}

func (r *shellRenderer) top() *shellFrame { return &r.stack[len(r.stack)-1] }

func (r *shellRenderer) push(k shellKind) {
	r.stack = append(r.stack, shellFrame{kind: k, cmdPos: k == shCmdSub || k == shBacktick})
}

func (r *shellRenderer) pop() {
	if len(r.stack) > 1 {
		r.stack = r.stack[:len(r.stack)-1]
	}
}

// commandFrame is the innermost frame that holds commands (not a quote or arithmetic).
func (r *shellRenderer) commandFrame() *shellFrame {
	for k := len(r.stack) - 1; k > 0; k-- {
		if f := &r.stack[k]; f.kind == shTop || f.kind == shCmdSub || f.kind == shBacktick {
			return f
		}
	}
	return &r.stack[0]
}

// reservedWords keep the next word in command position; forWords take arguments.
var (
	reservedWords = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "fi": true, "do": true,
		"done": true, "while": true, "until": true, "!": true, "{": true, "}": true, "time": true, "esac": true}
	forWords     = map[string]bool{"for": true, "case": true, "select": true, "in": true}
	assignmentRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=`)
)

// startWord notes that a word begins at i when none is being read, and whether it is the
// name of a command.
func (r *shellRenderer) startWord(i int) {
	f := r.commandFrame()
	if f.inWord || f != r.top() {
		return
	}
	f.inWord = true
	word := r.text[i:r.wordEnd(i, " \t\n;&|()<>")]
	switch {
	case !f.cmdPos:
		f.cmdWord = false
	case reservedWords[word] || assignmentRE.MatchString(word):
		f.cmdWord = false
	case forWords[word]:
		f.cmdWord, f.cmdPos = false, false
	default:
		f.cmdWord, f.cmdPos = true, false
	}
}

// endWord ends the word being read; a command separator puts the next word in command position.
func (r *shellRenderer) endWord(c byte) {
	f := r.top()
	f.inWord = false
	if strings.IndexByte("\n;&|()", c) >= 0 {
		f.cmdPos = true
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
		if err := r.arith(name); err != nil {
			return err
		}
		r.out.WriteString("${" + env + "}")
	case shBacktick:
		// Double quotes inside backquotes inside double quotes are undefined in POSIX sh.
		if len(r.stack) > 1 && r.stack[len(r.stack)-2].kind == shDouble {
			r.out.WriteString("${" + env + "}")
			return nil
		}
		fallthrough
	default:
		if r.commandFrame().cmdWord {
			r.out.WriteString(`"${` + env + `}"`)
		} else {
			r.out.WriteString("${" + env + "}")
		}
	}
	return nil
}

// dollar handles "$" right before a placeholder, at i: SSM's text makes the value the name
// of a variable, and so does the script, when the value is a name.
func (r *shellRenderer) dollar(i int, sp span) (int, error) {
	if r.top().kind == shArith {
		return 0, fmt.Errorf("$ before placeholder {{ %s }} inside an arithmetic expression would make its value a variable name the shell evaluates; write {{ %s }} alone", sp.name, sp.name)
	}
	r.warn(i, "${{ %s }} reads the variable whose name is the value of %s, as under SSM; for the value itself write {{ %s }}", sp.name, sp.name, sp.name)
	// Letters, digits and underscores right after the placeholder continue the name.
	end := sp.end
	for end < len(r.text) && (isNameByte(r.text[end])) {
		if _, ok := r.spanStarting(end); ok {
			break
		}
		end++
	}
	name := "${" + r.ref(sp.name) + "}" + r.text[sp.end:end]
	r.snippet(`$(case ` + name + ` in ''|[!A-Za-z_]*|*[!A-Za-z0-9_]*) printf '$%s' "` + name +
		`";; *) eval "printf '%s' \"\${` + name + `-}\"";; esac)`)
	return end, nil
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// snippet writes shell text Stead adds, its backslashes doubled for each enclosing
// `...`, which removes one level of them before the text inside is read.
func (r *shellRenderer) snippet(text string) {
	for _, f := range r.stack {
		if f.kind == shBacktick {
			text = strings.ReplaceAll(text, `\`, `\\`)
		}
	}
	r.out.WriteString(text)
}

// tilde handles "~" starting a word at i. Followed by a placeholder alone (up to "/" or the
// end of the word), SSM's text is a tilde prefix: the script expands it the same way when
// the value is a plain user name, else keeps it literal. A placeholder with other text in
// the prefix cannot be expanded safely: it is rendered as usual, with a warning.
func (r *shellRenderer) tilde(i int) (int, bool) {
	end := r.wordEnd(i+1, "/ \t\n;&|()<>")
	sp, ok := r.spanAt(i + 1)
	if !ok || sp.code || sp.end != end {
		// SSM's text expands only a prefix without quotes or expansions of its own.
		if r.spanIn(i+1, end) && !strings.ContainsAny(placeholderRE.ReplaceAllString(r.text[i+1:end], ""), "'\"\\$`") {
			r.warn(i, "the text after ~ mixes a placeholder with other characters, which the shell does not expand as a user's home directory as SSM's text would; write ~{{ name }} with the placeholder alone before /")
		}
		return i, false
	}
	r.startWord(i)
	env := r.ref(sp.name)
	r.snippet(`"$(case ${` + env + `} in *[!A-Za-z0-9._/-]*|-*) printf '~%s' "${` + env +
		`}";; *) eval "printf '%s' ~${` + env + `}";; esac)"`)
	return sp.end, true
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

// dollarAt handles "$" at i where a placeholder or "$" follows: "$$" is copied whole (the
// shell's process id), "$" before a placeholder is a variable reference. It reports false
// for any other "$".
func (r *shellRenderer) dollarAt(i int) (int, bool, error) {
	if r.at(i+1) == '$' {
		r.out.WriteString("$$")
		return i + 2, true, nil
	}
	if sp, ok := r.spanAt(i + 1); ok && !sp.code {
		next, err := r.dollar(i, sp)
		return next, true, err
	}
	return i, false, nil
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
	case c == '$':
		if next, done, _ := r.dollarAt(i); done { // no error outside arithmetic
			return next
		}
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
	if f.kind != shArith {
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '<' || c == '>':
			r.endWord(c)
		case c == '#' && r.wordStart(i):
		default:
			if c == '~' && !f.inWord {
				if next, done := r.tilde(i); done {
					return next, nil
				}
			}
			r.startWord(i)
		}
	}
	f = r.top()
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
	case c == '$':
		if next, done, err := r.dollarAt(i); done || err != nil {
			return next, err
		}
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
	start := k
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
	k = min(k, len(r.text))
	// The delimiter word is copied to the output as it is (it holds no placeholder), so
	// its place there is known now.
	h.outAt, h.outLen = r.out.Len()+(start-j), k-start
	if r.spanIn(j, k) {
		h.outAt = -1
	}
	if delim.Len() > 0 {
		h.delim = delim.String()
		r.pending = append(r.pending, h)
	}
	return j
}

// bareDelimiterRE matches the delimiters a quoted here-document keeps when it is
// rewritten unquoted.
var bareDelimiterRE = regexp.MustCompile(`^[A-Za-z0-9_.+-]+$`)

// heredocBodies copies the bodies of the pending here-documents, starting at line start i.
func (r *shellRenderer) heredocBodies(i int) (int, error) {
	for _, h := range r.pending {
		if h.quoted && r.spanIn(i, r.heredocEnd(h, i)) {
			// SSM puts the value in the literal body; an unquoted here-document whose own
			// text is escaped does the same, with the value expanded from its variable.
			if h.outAt < 0 || !bareDelimiterRE.MatchString(h.delim) {
				sp, _ := r.firstSpanFrom(i)
				return 0, fmt.Errorf("placeholder {{ %s }} is inside a quoted here-document whose delimiter %s cannot be written unquoted; use a delimiter of letters and digits", sp.name, quoteShort(h.delim))
			}
			r.patches = append(r.patches, patch{at: h.outAt, n: h.outLen, text: h.delim})
			h.converted = true
		}
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

// heredocEnd is where the body of h, starting at line start i, ends.
func (r *shellRenderer) heredocEnd(h heredoc, i int) int {
	for i < len(r.text) {
		lineEnd := strings.IndexByte(r.text[i:], '\n')
		if lineEnd < 0 {
			return len(r.text)
		}
		lineEnd += i
		line := r.text[i:lineEnd]
		if h.stripTabs {
			line = strings.TrimLeft(line, "\t")
		}
		if line == h.delim {
			return lineEnd
		}
		i = lineEnd + 1
	}
	return len(r.text)
}

// firstSpanFrom returns the first placeholder at or after i.
func (r *shellRenderer) firstSpanFrom(i int) (span, bool) {
	for _, sp := range r.spans[r.next:] {
		if sp.start >= i {
			return sp, true
		}
	}
	return span{}, false
}

func (r *shellRenderer) heredocLine(h heredoc, i, end int) error {
	for i < end {
		if sp, ok := r.spanAt(i); ok {
			r.out.WriteString("${" + r.ref(sp.name) + "}")
			i = sp.end
			continue
		}
		c := r.text[i]
		switch {
		case h.converted && (c == '\\' || c == '$' || c == '`'):
			r.out.WriteByte('\\')
		case h.quoted:
		case c == '\\' && i+1 < end:
			i = r.escape(i)
			continue
		case c == '$':
			next, done, err := r.dollarAt(i)
			if err != nil {
				return err
			}
			if done {
				i = next
				continue
			}
		}
		r.out.WriteByte(c)
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
	// toDouble marks a single-quoted here-string that holds placeholders, written as the
	// equivalent double-quoted one.
	toDouble bool
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
// without ever parsing the value as code. A single-quoted string or here-string that
// holds a placeholder is rewritten as the equivalent double-quoted one (its literal text
// escaped with backticks) so the reference expands inside it, as SSM's text would be
// there. PowerShell's typographic quotes count as quotes. $ right before a placeholder
// (or $env: before one) reads the variable the value names, as SSM's text does. A
// backtick right before a placeholder stays a literal backtick. It returns the script,
// the parameters it references and its warnings.
func renderPowerShell(t *scriptTemplate, code func(string) string) (string, map[string]bool, []scriptWarning) {
	r := &psRenderer{scanner: newScanner(t, code), stack: []*psFrame{{kind: psTop}}}
	for i := 0; i < len(r.text); {
		if sp, ok := r.spanAt(i); ok {
			if sp.code && len(r.stack) == 1 {
				r.splice(sp)
				continue
			}
			r.placeholder(sp.name)
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
	return r.result(), r.refs, r.warnings
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

func (r *psRenderer) placeholder(name string) {
	ref := "${env:" + r.ref(name) + "}"
	switch f := r.top(); f.kind {
	case psSingle:
		f.hasRef = true
		f.raw.WriteString(ref)
		f.converted.WriteString(ref)
	default: // a single-quoted here-string holding one is written double-quoted
		r.write(ref)
	}
}

// psVariableReads are the variable references PowerShell writes as $PREFIX or
// ${PREFIX} before a name: each reads the variable named by a value as the
// read formatted with the value's environment reference.
var psVariableReads = []struct{ prefix, read string }{
	{"env:", "$([Environment]::GetEnvironmentVariable(${env:%s}))"},
	{"global:", "$(Get-Variable -Name ${env:%s} -Scope Global -ValueOnly -ErrorAction SilentlyContinue)"},
	{"script:", "$(Get-Variable -Name ${env:%s} -Scope Script -ValueOnly -ErrorAction SilentlyContinue)"},
	{"local:", "$(Get-Variable -Name ${env:%s} -Scope Local -ValueOnly -ErrorAction SilentlyContinue)"},
	{"variable:", "$(Get-Variable -Name ${env:%s} -ValueOnly -ErrorAction SilentlyContinue)"},
	{"", "$(Get-Variable -Name ${env:%s} -ValueOnly -ErrorAction SilentlyContinue)"},
}

// dollar handles a variable reference at i whose name is a placeholder: $, a
// scope or drive ($env:, $global:, $script:, $local:, $variable:), or the same
// in braces (${env:{{ v }}}). SSM's text makes the value the name of a variable,
// and so does the script. Written as it stands, the reference would precede
// ${env:SSM_v} and PowerShell would read it as another name (or not parse it).
// It reports false when no placeholder is the name.
func (r *psRenderer) dollar(i int) (int, bool) {
	j := i + 1
	braced := false
	if r.at(j) == '{' {
		if _, ok := r.spanAt(j); !ok {
			braced = true
			j++
		}
	}
	read := psVariableReads[len(psVariableReads)-1]
	for _, v := range psVariableReads {
		if v.prefix != "" && len(r.text)-j > len(v.prefix) && strings.EqualFold(r.text[j:j+len(v.prefix)], v.prefix) {
			read = v
			break
		}
	}
	sp, ok := r.spanAt(j + len(read.prefix))
	if !ok || sp.code {
		return i, false
	}
	end := sp.end
	if braced {
		if r.at(end) != '}' {
			return i, false
		}
		end++
	}
	shown := r.text[i:j+len(read.prefix)] + "{{ " + sp.name + " }}" + strings.Repeat("}", end-sp.end)
	r.warn(i, "%s reads the variable whose name is the value of %s, as under SSM (Stead renders it as a read, so it cannot be assigned to); for the value itself write {{ %s }}", shown, sp.name, sp.name)
	r.write(fmt.Sprintf(read.read, r.ref(sp.name)))
	return end, true
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
	case c == '$' && r.at(i+1) != '(':
		if next, ok := r.dollar(i); ok {
			return next
		}
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
		if f.toDouble {
			term = `"@`
		}
		r.write(term)
		return i + 2
	}
	switch {
	case f.toDouble:
		r.write(psDoubleEscape(c))
		return i + size
	case f.kind == psHereDouble && c == '`':
		return r.escape(i)
	case f.kind == psHereDouble && c == '$':
		if next, ok := r.dollar(i); ok {
			return next
		}
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
			r.write(`@"`)
			return i + 2
		}
		// SSM puts a value in the literal body; a double-quoted here-string whose own
		// text is escaped does the same, with the value expanded from its variable.
		h := r.push(psHereSingle)
		h.toDouble = r.spanIn(i, r.hereStringEnd(i))
		if h.toDouble {
			r.write(`@"`)
		} else {
			r.write(`@'`)
		}
		return i + 2
	case c == '$' && r.at(i+1) != '(':
		if next, ok := r.dollar(i); ok {
			return next
		}
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

// hereStringEnd is where the single-quoted here-string opened at i ends: at the line that
// starts with '@, or at the end of the text.
func (r *psRenderer) hereStringEnd(i int) int {
	if end := strings.Index(r.text[i:], "\n'@"); end >= 0 {
		return i + end
	}
	return len(r.text)
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
