package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/stead-io/stead/contract"
)

// Genesis is the PreviousHash of the first record of a log.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Hash is the SHA-256, in hex, of r's JSON without its Hash: what r.Hash
// must be. encoding/json writes struct fields in declaration order and
// map keys sorted, and the raw request and response are written compacted,
// so the same record always hashes the same, before and after a round
// trip through an export file.
func Hash(r contract.AuditRecord) (string, error) {
	r.Hash = ""
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode audit record %d: %w", r.Sequence, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Link makes r the record after prev (nil: the first of the log): it sets
// r's sequence number, previous hash and hash.
func Link(prev *contract.AuditRecord, r contract.AuditRecord) (contract.AuditRecord, error) {
	r.Sequence, r.PreviousHash = 1, Genesis
	if prev != nil {
		r.Sequence, r.PreviousHash = prev.Sequence+1, prev.Hash
	}
	h, err := Hash(r)
	if err != nil {
		return r, err
	}
	r.Hash = h
	return r, nil
}

// BrokenError says which record breaks a chain, and how.
type BrokenError struct {
	// Index is the record's position in what was checked, from 0.
	Index int
	// Sequence and EventID are the broken record's own.
	Sequence int64
	EventID  string
	Reason   string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit record %d (sequence %d, event %s): %s", e.Index+1, e.Sequence, e.EventID, e.Reason)
}

// Verify checks that records form an unbroken chain, oldest first: each
// record's hash is its own, its sequence number follows the one before,
// and its previous hash is that record's hash. The first record must be
// the log's first (sequence 1, previous hash Genesis) unless fromMiddle,
// for an export of the log's tail, whose first record's predecessor is
// not there to check. It returns a *BrokenError naming the first record
// that breaks the chain.
func Verify(records []contract.AuditRecord, fromMiddle bool) error {
	for i, r := range records {
		broken := func(format string, args ...any) error {
			return &BrokenError{Index: i, Sequence: r.Sequence, EventID: r.EventID, Reason: fmt.Sprintf(format, args...)}
		}
		h, err := Hash(r)
		if err != nil {
			return broken("%v", err)
		}
		if h != r.Hash {
			return broken("its content does not match its hash (edited after it was written)")
		}
		switch {
		case i > 0 && r.Sequence != records[i-1].Sequence+1:
			return broken("sequence %d follows %d (a record is missing or was inserted)", r.Sequence, records[i-1].Sequence)
		case i > 0 && r.PreviousHash != records[i-1].Hash:
			return broken("its previous hash is not the hash of record %d", records[i-1].Sequence)
		case i == 0 && !fromMiddle && r.Sequence != 1:
			return broken("the log starts at sequence %d, not 1 (its beginning is missing)", r.Sequence)
		case i == 0 && !fromMiddle && r.PreviousHash != Genesis:
			return broken("the first record's previous hash is not the genesis hash")
		}
	}
	return nil
}
