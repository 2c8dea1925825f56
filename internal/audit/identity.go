package audit

import (
	"strings"

	"github.com/stead-io/stead/contract"
)

// certMarker separates user@host from the certificate subject in an
// identity.
const certMarker = " cert="

// Identity is how a client names itself in the requests it sends and in
// Temporal's own records: user@host, followed by " cert=SUBJECT" when it
// connects with a TLS client certificate, whose subject is then who the
// server let in.
func Identity(user, host, certSubject string) string {
	id := user + "@" + host
	if certSubject != "" {
		id += certMarker + certSubject
	}
	return id
}

// ParseIdentity reads an identity as a request gave it into the record's
// UserIdentity and the host it came from. Anything that does not read as
// Identity wrote it is kept whole as the principal; an empty identity is
// said to be missing, never guessed.
func ParseIdentity(by string) (contract.AuditIdentity, string) {
	if strings.TrimSpace(by) == "" {
		return contract.AuditIdentity{Type: contract.IdentityNone, PrincipalID: "(no identity in the request)"}, ""
	}
	id := contract.AuditIdentity{Type: contract.IdentityUser, PrincipalID: by}
	userHost, subject, _ := strings.Cut(by, certMarker)
	id.CertificateSubject = subject
	user, host, ok := strings.Cut(userHost, "@")
	if !ok {
		id.UserName = userHost
		return id, ""
	}
	id.UserName = user
	return id, host
}
