package powershell

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
	"unicode/utf16"
)

// clixmlMarker starts each CLIXML document PowerShell writes on stderr
// when that stream is not a console: its error records (and warning,
// verbose, debug and information records) as serialized objects.
const clixmlMarker = "#< CLIXML"

// DecodeCLIXML turns every CLIXML document in a stderr stream into the
// text PowerShell would have printed on a console, so operators read
// "bad input\r\n" rather than XML. Text outside the documents is kept as
// it is; of each document, the strings of its <S S="..."> records (Error,
// Warning, Verbose, Debug, Information) are kept in order, with the
// _xHHHH_ escapes PowerShell writes for control characters (_x000D__x000A_
// is a line break) decoded, and serialized objects (progress records) are
// dropped. A document cut short (output kept up to a limit) yields the
// text it holds, as a cut plain stream would; a marker followed by no
// <Objs> document is kept as it is.
func DecodeCLIXML(b []byte) []byte {
	if !bytes.Contains(b, []byte(clixmlMarker)) {
		return b
	}
	var out bytes.Buffer
	for {
		i := bytes.Index(b, []byte(clixmlMarker))
		if i < 0 {
			out.Write(b)
			return out.Bytes()
		}
		out.Write(b[:i])
		doc := b[i+len(clixmlMarker):]
		doc = bytes.TrimPrefix(doc, []byte("\r"))
		doc = bytes.TrimPrefix(doc, []byte("\n"))
		text, n, ok := decodeDocument(doc)
		if !ok {
			// Not a document: keep the marker as text and look further on.
			out.Write(b[i : i+len(clixmlMarker)])
			b = b[i+len(clixmlMarker):]
			continue
		}
		out.WriteString(text)
		b = doc[n:]
		if n == len(doc) {
			return out.Bytes()
		}
		b = bytes.TrimPrefix(b, []byte("\r"))
		b = bytes.TrimPrefix(b, []byte("\n"))
	}
}

// decodeDocument reads one <Objs> document at the start of doc and
// returns the text of its records and how many bytes it took (all of doc
// for a document cut short, whose text ends where doc does). ok is false if doc starts with no <Objs>
// element.
func decodeDocument(doc []byte) (text string, n int, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	var b strings.Builder
	depth := 0 // 1 inside <Objs>, 2 inside one of its records
	inRecord := false
	for {
		tok, err := d.Token()
		if err != nil {
			// A document cut short: what it completed so far.
			return b.String(), len(doc), depth > 0
		}
		if depth == 0 {
			if root, isStart := tok.(xml.StartElement); isStart {
				if root.Name.Local != "Objs" {
					return "", 0, false
				}
				depth = 1
			} else if !isSpaceOrHeader(tok) {
				return "", 0, false
			}
			continue
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 1 && t.Name.Local == "S" && hasAttr(t, "S") {
				depth, inRecord = 2, true
				continue
			}
			// A serialized object (a progress record), or markup inside a
			// string: nothing a console would print.
			if err := d.Skip(); err != nil {
				return b.String(), len(doc), true
			}
		case xml.EndElement:
			depth--
			inRecord = false
			if depth == 0 {
				return b.String(), int(d.InputOffset()), true
			}
		case xml.CharData:
			if inRecord {
				b.WriteString(unescapeCLIXML(string(t)))
			}
		}
	}
}

// isSpaceOrHeader reports whether tok may come before a document's root.
func isSpaceOrHeader(tok xml.Token) bool {
	switch t := tok.(type) {
	case xml.ProcInst, xml.Comment, xml.Directive:
		return true
	case xml.CharData:
		return len(bytes.TrimSpace(t)) == 0
	}
	return false
}

func hasAttr(e xml.StartElement, name string) bool {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return true
		}
	}
	return false
}

// unescapeCLIXML decodes PowerShell's _xHHHH_ escapes (UTF-16 code units,
// surrogate pairs as two escapes).
func unescapeCLIXML(s string) string {
	if !strings.Contains(s, "_x") {
		return s
	}
	var b strings.Builder
	var units []uint16
	flush := func() {
		if len(units) > 0 {
			b.WriteString(string(utf16.Decode(units)))
			units = units[:0]
		}
	}
	for i := 0; i < len(s); {
		if u, ok := escapeAt(s, i); ok {
			units = append(units, u)
			i += len("_x0000_")
			continue
		}
		flush()
		b.WriteByte(s[i])
		i++
	}
	flush()
	return b.String()
}

// escapeAt reads an _xHHHH_ escape at s[i:].
func escapeAt(s string, i int) (uint16, bool) {
	if i+7 > len(s) || s[i] != '_' || s[i+1] != 'x' || s[i+6] != '_' {
		return 0, false
	}
	v, err := strconv.ParseUint(s[i+2:i+6], 16, 16)
	if err != nil {
		return 0, false
	}
	return uint16(v), true
}
