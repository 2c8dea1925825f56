// Package codec encrypts what Stead writes to Temporal. Temporal stores every
// workflow input, result, signal, update and memo as it receives them, and
// its Web UI shows them to anyone who can open it; document parameters and
// command output do not belong there in plaintext.
//
// A Keyring holds AES-256 keys by id: the first (active) key encrypts, every
// key decrypts, so a rotated-out key keeps old histories readable. Codec is
// the converter.PayloadCodec that uses it; NewDataConverter and
// NewFailureConverter are the one place clients, workers and tests get their
// converters from, so what one encodes the others decode. Handler serves the
// same codec to the Temporal Web UI over Temporal's remote codec protocol.
package codec
