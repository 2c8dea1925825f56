package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/internal/codec"
)

// EnvCodecKeyFile names the environment variable that points at the codec
// key file, for commands run without --codec-key-file.
const EnvCodecKeyFile = "STEAD_CODEC_KEY_FILE"

// devKeyFile is where `stead dev` keeps its key inside its data directory.
const devKeyFile = "codec.key"

// defaultDataDir is `stead dev`'s data directory, relative to where it runs.
const defaultDataDir = ".stead"

func codecKeyFileFlag() ucli.Flag {
	return &ucli.StringFlag{
		Name:    "codec-key-file",
		Usage:   "key file that encrypts and decrypts payloads (default ./" + defaultDataDir + "/" + devKeyFile + " when it exists, else the key of the running stead dev; or keys in " + codec.EnvKeys + ")",
		EnvVars: []string{EnvCodecKeyFile},
	}
}

// codecKeys finds the payload keys of a client or worker of the server at
// address: --codec-key-file (or STEAD_CODEC_KEY_FILE), else
// STEAD_CODEC_KEYS, else the key of the running `stead dev` when address is
// its server, else the key `stead dev` made in ./.stead, so commands run
// beside `make run` need no flag. No key at all means payloads are written
// as Temporal writes them by default.
func codecKeys(c *ucli.Context, lookup func(string) (string, bool), address string) (*codec.Keyring, error) {
	file := c.String("codec-key-file")
	env, inEnv, err := codec.LoadEnv(lookup)
	switch {
	case file != "" && inEnv:
		return nil, fmt.Errorf("codec keys are given twice: set either --codec-key-file (%s) or %s, not both", EnvCodecKeyFile, codec.EnvKeys)
	case file != "":
		return codec.LoadKeyFile(file)
	case err != nil:
		return nil, err
	case inEnv:
		return env, nil
	}
	if p, _, ok := readDevProfile(); ok && sameAddress(p.Address, address) {
		if !p.Encrypted {
			return nil, nil
		}
		if p.CodecKeyFile != "" {
			return codec.LoadKeyFile(p.CodecKeyFile)
		}
	}
	dev := filepath.Join(defaultDataDir, devKeyFile)
	if _, err := os.Stat(dev); err == nil {
		return codec.LoadKeyFile(dev)
	}
	return nil, nil
}

// devKeys are the keys `stead dev` encrypts with: the ones given as for any
// command, else its data directory's key file. A key file that does not
// exist yet is created, so the first start needs no preparation.
func devKeys(c *ucli.Context, dataDir string) (keys *codec.Keyring, source string, err error) {
	path := c.String("codec-key-file")
	if path == "" {
		if env, inEnv, err := codec.LoadEnv(os.LookupEnv); inEnv || err != nil {
			return env, codec.EnvKeys, err
		}
		path = filepath.Join(dataDir, devKeyFile)
	}
	keys, err = codec.LoadKeyFile(path)
	if errors.Is(err, os.ErrNotExist) {
		keys, err = codec.CreateKeyFile(path, time.Now())
	}
	return keys, path, err
}

func keyCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "key",
		Usage: "create and rotate the keys that encrypt payloads in Temporal",
		Description: "A key file holds one key per line, ID:BASE64; the first encrypts, all decrypt. " +
			"Give it to every worker and CLI of a namespace (--codec-key-file or " + EnvCodecKeyFile + "), " +
			"or the same lines, comma-separated, in " + codec.EnvKeys + ".",
		Subcommands: []*ucli.Command{
			{
				Name:  "generate",
				Usage: "create a key file with one new key, or print a new key line",
				Flags: []ucli.Flag{
					&ucli.StringFlag{Name: "key-file", Usage: "create this file (mode 0600); it must not exist. Without it the key line is printed"},
				},
				Action: keyGenerate,
			},
			{
				Name:  "rotate",
				Usage: "put a new active key in front of a key file, keeping the old keys so old histories still decrypt",
				Flags: []ucli.Flag{
					&ucli.StringFlag{Name: "key-file", Usage: "the key file to rotate", Required: true},
				},
				Action: keyRotate,
			},
			{
				Name:  "list",
				Usage: "list the key ids in a key file (never the keys), active first",
				Flags: []ucli.Flag{
					&ucli.StringFlag{Name: "key-file", Usage: "the key file", Required: true},
				},
				Action: func(c *ucli.Context) error {
					k, err := codec.LoadKeyFile(c.String("key-file"))
					if err != nil {
						return err
					}
					for i, id := range k.IDs() {
						state := "decrypts"
						if i == 0 {
							state = "active: encrypts and decrypts"
						}
						fmt.Fprintf(c.App.Writer, "%s\t%s\n", id, state)
					}
					return nil
				},
			},
		},
	}
}

func keyGenerate(c *ucli.Context) error {
	if path := c.String("key-file"); path != "" {
		k, err := codec.CreateKeyFile(path, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "created %s with key %s\n", path, k.ActiveID())
		return nil
	}
	k, err := codec.Generate(time.Now())
	if err != nil {
		return err
	}
	// Printed on request only: the operator asked for the key itself, to
	// put in a secret store.
	for _, line := range strings.Split(string(k.Marshal()), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			fmt.Fprintln(c.App.Writer, line)
		}
	}
	return nil
}

func keyRotate(c *ucli.Context) error {
	path := c.String("key-file")
	k, err := codec.RotateKeyFile(path, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s: key %s is now active; %d older keys still decrypt. Restart workers and codec servers with the new file.\n", path, k.ActiveID(), len(k.IDs())-1)
	return nil
}
