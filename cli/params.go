package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/documents"
)

// maxParameterFileBytes bounds a parameters file or standard input.
const maxParameterFileBytes = 1 << 20

// parameterFlags are the flags that give document parameters. A value
// given in a file or on standard input is not in the process list, where
// every local user can read a command line.
func parameterFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringSliceFlag{Name: "parameters", Usage: `document parameters as JSON ('{"commands":["uname -a"]}') or key=value; @FILE reads them from a file, @- from standard input (repeatable)`},
		&ucli.StringSliceFlag{Name: "parameters-file", Usage: "file of document parameters as JSON, - for standard input (repeatable)"},
	}
}

// parametersGiven reports whether any parameter flag was given.
func parametersGiven(c *ucli.Context) bool {
	return c.IsSet("parameters") || c.IsSet("parameters-file")
}

// parseParameters reads the parameter flags, in order: --parameters
// values (each @FILE or @- read in its place), then --parameters-file.
func parseParameters(c *ucli.Context) (map[string]any, error) {
	var vals []string
	for _, v := range c.StringSlice("parameters") {
		if path, ok := strings.CutPrefix(v, "@"); ok {
			data, err := readParameterFile(c, path)
			if err != nil {
				return nil, err
			}
			v = data
		}
		vals = append(vals, v)
	}
	for _, path := range c.StringSlice("parameters-file") {
		data, err := readParameterFile(c, path)
		if err != nil {
			return nil, err
		}
		vals = append(vals, data)
	}
	return documents.ParseParameterFlags(vals)
}

// readParameterFile reads a parameters file, or standard input for "-".
func readParameterFile(c *ucli.Context, path string) (string, error) {
	var r io.Reader
	name := path
	if path == "-" {
		r, name = c.App.Reader, "standard input"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("read parameters: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxParameterFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("read parameters from %s: %w", name, err)
	}
	if len(data) > maxParameterFileBytes {
		return "", fmt.Errorf("parameters in %s: more than %d bytes", name, maxParameterFileBytes)
	}
	text := strings.TrimSpace(string(data))
	if text == "" {
		return "", fmt.Errorf("parameters in %s: empty", name)
	}
	return text, nil
}
