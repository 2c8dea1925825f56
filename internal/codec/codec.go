package codec

import (
	"crypto/rand"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Metadata Stead sets on an encrypted payload. The encoding tells every
// Temporal tool the data is opaque; the key id says which key opens it, so
// payloads written before a rotation still decrypt after it.
const (
	Encoding      = "binary/encrypted"
	MetadataKeyID = "encryption-key-id"
	MetadataAlg   = "encryption-cipher"
	Algorithm     = "AES-256-GCM"
)

// aadPrefix binds each ciphertext to the key id it names, so moving a
// payload's metadata to another key fails authentication instead of
// decrypting garbage.
const aadPrefix = "stead-payload-v1:"

// Codec is an AES-256-GCM converter.PayloadCodec over a Keyring. Encode
// seals the whole serialized payload (its data and its metadata, such as the
// original encoding) under the active key; Decode opens payloads marked
// with Encoding and passes any other through, because search attributes,
// histories written before encryption was turned on, and payloads written
// by a client without a key are plaintext.
type Codec struct {
	keys *Keyring
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec over keys. A nil or empty keyring encrypts nothing
// and refuses to decode encrypted payloads, saying so.
func New(keys *Keyring) *Codec { return &Codec{keys: keys} }

// Encode encrypts every payload with the active key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	if c.keys.ActiveID() == "" {
		return payloads, nil
	}
	active := &c.keys.keys[0]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypt payload: serialize: %w", err)
		}
		nonce := make([]byte, active.aead.NonceSize(), active.aead.NonceSize()+len(plain)+active.aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypt payload: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(active.id),
				MetadataAlg:                []byte(Algorithm),
			},
			Data: active.aead.Seal(nonce, nonce, plain, []byte(aadPrefix+active.id)),
		}
	}
	return out, nil
}

// Decode decrypts every payload marked as encrypted with whichever key its
// metadata names.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		d, err := c.decrypt(p)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func (c *Codec) decrypt(p *commonpb.Payload) (*commonpb.Payload, error) {
	id := string(p.GetMetadata()[MetadataKeyID])
	if c.keys.ActiveID() == "" {
		return nil, fmt.Errorf("decrypt payload: it is encrypted with codec key %q and no codec key is configured (--codec-key-file, STEAD_CODEC_KEY_FILE or %s)", id, EnvKeys)
	}
	k := c.keys.byID[id]
	if k == nil {
		return nil, fmt.Errorf("decrypt payload: it is encrypted with codec key %q, which the keyring lacks (it has %s)", id, strings.Join(c.keys.IDs(), ", "))
	}
	data := p.GetData()
	ns := k.aead.NonceSize()
	if len(data) < ns+k.aead.Overhead() {
		return nil, fmt.Errorf("decrypt payload with codec key %q: ciphertext is truncated", id)
	}
	plain, err := k.aead.Open(nil, data[:ns], data[ns:], []byte(aadPrefix+id))
	if err != nil {
		return nil, fmt.Errorf("decrypt payload with codec key %q: authentication failed: the key file holds a different key under that id, or the payload was altered", id)
	}
	var d commonpb.Payload
	if err := proto.Unmarshal(plain, &d); err != nil {
		return nil, fmt.Errorf("decrypt payload with codec key %q: deserialize: %w", id, err)
	}
	return &d, nil
}

// NewDataConverter is the data converter every Stead client and worker
// uses: Temporal's default JSON/proto conversion, encrypted by keys. With a
// nil keyring it still decodes plaintext and reports encrypted payloads as
// needing a key, rather than failing with an unknown-encoding error.
func NewDataConverter(keys *Keyring) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), New(keys))
}

// NewFailureConverter is the failure converter to pair with dc. With a key,
// failure messages and stack traces go into an encrypted payload too: an
// error can quote a parameter or a line of output.
func NewFailureConverter(keys *Keyring, dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: keys.ActiveID() != "",
	})
}
