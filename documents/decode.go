package documents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxDocumentSize is the largest document content Parse accepts, in bytes. It is the limit
// SSM puts on document content, and it bounds the work a hostile document can cause. JSON
// content is measured without the blanks between its tokens (as it is when a tool sends a
// document in compact form), so that an indented file of a document SSM takes is taken.
const MaxDocumentSize = 64 * 1024

// maxContentBytes bounds the content read at all, blanks included.
const maxContentBytes = 4 * MaxDocumentSize

// contentSize is the size MaxDocumentSize applies to: compact JSON, or YAML as it is.
func contentSize(data []byte) int {
	if trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		var compact bytes.Buffer
		if json.Compact(&compact, trimmed) == nil {
			return compact.Len()
		}
	}
	return len(data)
}

// Limits on the decoded tree, so that YAML aliases or deep nesting cannot turn a small
// document into a large amount of work.
const (
	maxTreeDepth = 64
	maxTreeNodes = 1 << 16
)

// SyntaxError reports content that is not well-formed JSON or YAML. Line and Column are
// 1-based; Column is 0 when the YAML parser does not report one. It is a distinct type so
// that the CLI can point at the offending place in the user's file.
type SyntaxError struct {
	Format string // "json" or "yaml"
	Line   int
	Column int
	Msg    string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s syntax error at line %d, column %d: %s", e.Format, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s syntax error at line %d: %s", e.Format, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s syntax error: %s", e.Format, e.Msg)
	}
}

// decodeTree turns JSON or YAML content into a tree of map[string]any, []any, string,
// int64, float64, bool and nil. Content whose first significant byte is '{' is JSON;
// anything else is YAML.
func decodeTree(data []byte) (any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("document is empty")
	}
	if trimmed[0] == '{' {
		return decodeJSON(data)
	}
	return decodeYAML(data)
}

// jsonDecoder builds the tree from the token stream so that duplicate keys, which
// encoding/json would silently collapse, are refused.
type jsonDecoder struct {
	data  []byte
	dec   *json.Decoder
	nodes int
}

func decodeJSON(data []byte) (any, error) {
	d := &jsonDecoder{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	d.dec.UseNumber()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	offset := d.nextTokenOffset()
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, d.syntaxError(offset, "unexpected content after the top-level object")
	}
	return v, nil
}

func (d *jsonDecoder) value(depth int) (any, error) {
	if depth > maxTreeDepth {
		return nil, d.syntaxError(d.dec.InputOffset(), "nesting is too deep")
	}
	d.nodes++
	if d.nodes > maxTreeNodes {
		return nil, d.syntaxError(d.dec.InputOffset(), "too many values")
	}
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.wrap(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for d.dec.More() {
				offset := d.nextTokenOffset()
				keyTok, err := d.dec.Token()
				if err != nil {
					return nil, d.wrap(err)
				}
				key, ok := keyTok.(string)
				if !ok {
					return nil, d.syntaxError(offset, "object key must be a string")
				}
				if _, dup := m[key]; dup {
					return nil, d.syntaxError(offset, fmt.Sprintf("duplicate key %q", key))
				}
				v, err := d.value(depth + 1)
				if err != nil {
					return nil, err
				}
				m[key] = v
			}
			if _, err := d.dec.Token(); err != nil {
				return nil, d.wrap(err)
			}
			return m, nil
		case '[':
			list := []any{}
			for d.dec.More() {
				v, err := d.value(depth + 1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := d.dec.Token(); err != nil {
				return nil, d.wrap(err)
			}
			return list, nil
		default:
			return nil, d.syntaxError(d.dec.InputOffset(), fmt.Sprintf("unexpected %q", rune(t)))
		}
	case json.Number:
		return numberValue(t.String()), nil
	default: // string, bool, nil
		return t, nil
	}
}

// nextTokenOffset is where the next token starts: past blanks and the separators the
// decoder has not consumed yet.
func (d *jsonDecoder) nextTokenOffset() int64 {
	i := d.dec.InputOffset()
	for i < int64(len(d.data)) && bytes.IndexByte([]byte(" \t\r\n,:"), d.data[i]) >= 0 {
		i++
	}
	return i
}

// numberValue keeps integers exact and everything else as float64.
func numberValue(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}

func (d *jsonDecoder) wrap(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return d.syntaxError(se.Offset, se.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return d.syntaxError(int64(len(d.data)), "unexpected end of input")
	}
	return d.syntaxError(d.dec.InputOffset(), err.Error())
}

// syntaxError converts a byte offset into a line and column.
func (d *jsonDecoder) syntaxError(offset int64, msg string) error {
	if offset > int64(len(d.data)) {
		offset = int64(len(d.data))
	}
	if offset < 0 {
		offset = 0
	}
	before := d.data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	column := int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return &SyntaxError{Format: "json", Line: line, Column: column, Msg: msg}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

func decodeYAML(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("document is empty")
		}
		return nil, yamlSyntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlSyntaxError(err)
		}
		return nil, &SyntaxError{Format: "yaml", Line: extra.Line, Column: extra.Column, Msg: "more than one YAML document"}
	}
	c := &yamlConverter{}
	return c.convert(&root, 0)
}

func yamlSyntaxError(err error) error {
	msg := err.Error()
	se := &SyntaxError{Format: "yaml", Msg: strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		se.Line, _ = strconv.Atoi(m[1])
		se.Msg = msg[len(m[0]):]
	}
	return se
}

type yamlConverter struct {
	nodes int
}

func (c *yamlConverter) fail(n *yaml.Node, msg string) error {
	return &SyntaxError{Format: "yaml", Line: n.Line, Column: n.Column, Msg: msg}
}

func (c *yamlConverter) convert(n *yaml.Node, depth int) (any, error) {
	if depth > maxTreeDepth {
		return nil, c.fail(n, "nesting is too deep")
	}
	c.nodes++
	if c.nodes > maxTreeNodes {
		return nil, c.fail(n, "too many values (alias expansion?)")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, c.fail(n, "document is empty")
		}
		return c.convert(n.Content[0], depth)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, c.fail(n, "unknown alias")
		}
		return c.convert(n.Alias, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			for k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return nil, c.fail(k, "mapping key must be a scalar")
			}
			if _, dup := m[k.Value]; dup {
				return nil, c.fail(k, fmt.Sprintf("duplicate key %q", k.Value))
			}
			v, err := c.convert(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			v, err := c.convert(item, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	case yaml.ScalarNode:
		return c.scalar(n)
	default:
		return nil, c.fail(n, "unexpected YAML node")
	}
}

func (c *yamlConverter) scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!str", "!!timestamp", "!!binary":
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, c.fail(n, err.Error())
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, c.fail(n, fmt.Sprintf("integer %q out of range", n.Value))
		}
		return f, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, c.fail(n, err.Error())
		}
		return f, nil
	default:
		return nil, c.fail(n, fmt.Sprintf("unsupported YAML tag %s", n.Tag))
	}
}
