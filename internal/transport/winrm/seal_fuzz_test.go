package winrm

import (
	"bytes"
	"testing"
)

// FuzzParseSealed: a body from the network never panics the parser, and
// what it accepts frames back to a body it reads alike.
func FuzzParseSealed(f *testing.F) {
	good := frameSealed(bytes.Repeat([]byte{7}, signatureLen), []byte("<s:Envelope/>"), soapContentType)
	f.Add(good)
	f.Add(bytes.ReplaceAll(good, []byte("\t"), nil)) // headers unindented
	f.Add(bytes.Replace(good, []byte("Length=13"), []byte("Length=-1"), 1))
	f.Add([]byte(sealedBoundary + "\r\n" + sealedBoundary + "\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		contentType, signature, sealed, err := parseSealed(body)
		if err != nil {
			return
		}
		if len(signature) != signatureLen {
			t.Fatalf("accepted a %d-byte signature", len(signature))
		}
		ct, sig, s, err := parseSealed(frameSealed(signature, sealed, contentType))
		if err != nil || ct != contentType || !bytes.Equal(sig, signature) || !bytes.Equal(s, sealed) {
			t.Fatalf("reframed %q: %v", body, err)
		}
	})
}

func TestParseSealedRefusesMalformedBodies(t *testing.T) {
	good := frameSealed(bytes.Repeat([]byte{7}, signatureLen), []byte("<s:Envelope/>"), soapContentType)
	ct, sig, sealed, err := parseSealed(good)
	if err != nil || ct != soapContentType || len(sig) != signatureLen || string(sealed) != "<s:Envelope/>" {
		t.Fatalf("parse a good body: %q %x %q %v", ct, sig, sealed, err)
	}
	for name, body := range map[string][]byte{
		"empty":            nil,
		"short signature":  frameSealed([]byte{1, 2, 3}, []byte("<s:Envelope/>"), soapContentType),
		"longer than said": bytes.Replace(good, []byte("Length=13"), []byte("Length=12"), 1),
		"no length":        bytes.Replace(good, []byte(";Length=13"), nil, 1),
		"other protocol":   bytes.Replace(good, []byte("HTTP-SPNEGO"), []byte("HTTP-CredSSP"), 1),
		"no closing":       bytes.TrimSuffix(good, []byte("--\r\n")),
		"not octets":       bytes.Replace(good, []byte("octet-stream"), []byte("soap+xml"), 1),
	} {
		if _, _, _, err := parseSealed(body); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
