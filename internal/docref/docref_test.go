package docref

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/documents"
	"github.com/stead-io/stead/internal/problems"
)

const greet = `{"schemaVersion": "2.2", "parameters": {"who": {"type": "String"}},
  "mainSteps": [{"action": "aws:runShellScript", "name": "say", "inputs": {"runCommand": ["echo {{ who }}"]}}]}`

// registry resolves built-ins and one registered document, "greet", at
// version 1; down makes every registry read fail.
func registry(down bool) documents.Resolver {
	return func(name, version string) (documents.Source, error) {
		if _, _, ok := documents.Builtin(name); ok {
			return documents.ResolveBuiltin(name, version)
		}
		if down {
			return documents.Source{}, errors.New("registry unavailable")
		}
		if name == "greet" && (version == "1" || version == documents.VersionDefault) {
			return documents.Source{Name: name, Version: "1", Content: []byte(greet)}, nil
		}
		return documents.Source{}, fmt.Errorf("document %s: %w", name, documents.ErrNotFound)
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		ref    string
		params map[string]any
		stored string
		err    string
	}{
		{ref: "AWS-RunShellScript", params: map[string]any{"commands": "true"}, stored: "Stead-RunShellScript"},
		{ref: "greet:1", params: map[string]any{"who": "x"}, stored: "greet:1"},
		{ref: "greet", params: map[string]any{"who": "x"}, stored: "greet"},
		{ref: "Nope", err: "document Nope not found (built-in documents: Stead-ConfigureNetwork, Stead-DownloadContent, Stead-GatherInventory, Stead-InstallPackages, Stead-JoinDomain, Stead-RunDocument, Stead-RunPatchBaseline, Stead-RunPowerShellScript, Stead-RunShellScript, Stead-UpdateSoftware; `stead document list` shows registered ones)"},
		{ref: "greet:7", err: "document greet:7 not found"},
		{ref: "greet:x", err: `document reference "greet:x": version "x"`},
		{ref: "greet", err: "document greet: check parameters of document greet: parameter who: a value is required"},
	} {
		t.Run(tt.ref, func(t *testing.T) {
			stored, err := Check(tt.ref, tt.params, registry(false))
			if tt.err == "" {
				require.NoError(t, err)
				require.Equal(t, tt.stored, stored)
				return
			}
			require.ErrorContains(t, err, tt.err)
			require.ErrorIs(t, err, problems.ErrInvalid)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestCheckRegistryDown(t *testing.T) {
	_, err := Check("greet", nil, registry(true))
	require.EqualError(t, err, "registry unavailable")
	require.NotErrorIs(t, err, problems.ErrInvalid)
	// A built-in nesting a registered document: the failure is the registry's too.
	_, err = Check("Stead-RunDocument", map[string]any{"documentType": "SSMDocument", "documentPath": "greet"}, registry(true))
	require.EqualError(t, err, "registry unavailable")
}
