package client

import (
	"context"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/workflows"
)

// redactSecretParameters replaces, in st's spec and in every version's,
// the values of the parameters its document marks "secret": true with
// documents.Redacted: the association keeps them (encrypted), but a
// describe is for people and for scripts that print. A value that is a
// {{ssm-secure:NAME}} reference is no secret and stays. When a version's
// document cannot be read any more, none of its values can be told safe,
// so all of them are redacted.
func (c *Client) redactSecretParameters(ctx context.Context, st *workflows.AssociationState) {
	secret := map[string]func(string) bool{}
	redact := func(spec *workflows.AssociationSpec) {
		if len(spec.Parameters) == 0 {
			return
		}
		isSecret, ok := secret[spec.Document]
		if !ok {
			isSecret = c.secretParameters(ctx, spec.Document)
			secret[spec.Document] = isSecret
		}
		spec.Parameters = documents.RedactParameters(spec.Parameters, isSecret)
	}
	redact(&st.Spec)
	for i := range st.Versions {
		redact(&st.Versions[i].Spec)
	}
}

// secretParameters tells which parameters of the document ref names are
// secret; every one when the document cannot be read.
func (c *Client) secretParameters(ctx context.Context, ref string) func(string) bool {
	all := func(string) bool { return true }
	name, version, err := documents.ParseRef(ref)
	if err != nil {
		return all
	}
	src, err := c.ResolveDocument(ctx, name, version)
	if err != nil {
		return all
	}
	doc, err := workflows.CheckDocumentContent(src.Content)
	if err != nil {
		return all
	}
	return func(p string) bool { return doc.Parameters[p].Secret }
}
