package cli

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/stead-io/stead/internal/codec"
	"github.com/stead-io/stead/internal/hostguard"
)

// EnvCodecToken names the environment variable holding codec-server's
// bearer token, which is better kept out of the process list than --token.
const EnvCodecToken = "STEAD_CODEC_TOKEN"

func codecServerCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "codec-server",
		Usage: "serve /encode and /decode so the Temporal Web UI (or temporal CLI) shows Stead's encrypted payloads decoded",
		Description: "Point the Web UI at it (ui-server config codec.endpoint, or TEMPORAL_CODEC_ENDPOINT) and allow the UI's origin " +
			"with --origin. Anyone who can call it can read every payload: keep it on loopback or behind TLS and a token.",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "listen", Usage: "host:port to serve on", Value: "127.0.0.1:8081"},
			&ucli.StringFlag{Name: "key-file", Usage: "codec key file (or keys in " + codec.EnvKeys + ")", EnvVars: []string{EnvCodecKeyFile}},
			&ucli.StringSliceFlag{Name: "origin", Usage: "Web UI origin allowed to call from a browser, e.g. http://localhost:8233 (repeatable)"},
			&ucli.StringFlag{Name: "token", Usage: "bearer token every request must carry (prefer " + EnvCodecToken + ")", EnvVars: []string{EnvCodecToken}},
			&ucli.StringFlag{Name: "tls-cert-file", Usage: "serve HTTPS with this PEM certificate"},
			&ucli.StringFlag{Name: "tls-key-file", Usage: "PEM private key of --tls-cert-file"},
		},
		Action: codecServerRun,
	}
}

func codecServerRun(c *ucli.Context) error {
	var keys *codec.Keyring
	var err error
	if f := c.String("key-file"); f != "" {
		keys, err = codec.LoadKeyFile(f)
	} else {
		var ok bool
		keys, ok, err = codec.LoadEnv(os.LookupEnv)
		if err == nil && !ok {
			err = fmt.Errorf("codec-server needs keys: --key-file, %s or %s", EnvCodecKeyFile, codec.EnvKeys)
		}
	}
	if err != nil {
		return err
	}
	origins := c.StringSlice("origin")
	for _, o := range origins {
		if err := validOrigin(o); err != nil {
			return err
		}
	}
	cert, key := c.String("tls-cert-file"), c.String("tls-key-file")
	if (cert == "") != (key == "") {
		return errors.New("codec-server: --tls-cert-file and --tls-key-file go together")
	}
	l, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return fmt.Errorf("listen for codec requests on %s: %w", c.String("listen"), err)
	}
	logger := slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
	if cert == "" && !isLoopback(l.Addr()) {
		logger.Warn("codec server serves decrypted payloads over plain HTTP on a non-loopback address; use --tls-cert-file and --token")
	}
	srv := &http.Server{
		Handler:           codec.NewHandler(keys, codec.HandlerOptions{Origins: origins, Token: c.String("token")}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	scheme := "http"
	if cert != "" {
		scheme = "https"
	}
	fmt.Fprintf(c.App.Writer, "codec server on %s://%s (keys %v, origins %v, token required: %t)\n", scheme, l.Addr(), keys.IDs(), origins, c.String("token") != "")
	errc := make(chan error, 1)
	go func() {
		if cert != "" {
			errc <- srv.ServeTLS(l, cert, key)
		} else {
			errc <- srv.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve codec requests: %w", err)
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
		return nil
	}
}

// validOrigin accepts what a browser sends as Origin: scheme://host[:port].
func validOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("origin %q: want scheme://host[:port], e.g. http://localhost:8233", o)
	}
	return nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// devCodec is `stead dev`'s encryption: its keys and the codec endpoint it
// serves to its own Web UI.
type devCodec struct {
	keys     *codec.Keyring
	source   string
	endpoint string
	// token is the endpoint's secret first path segment, new at each start:
	// only a caller told the endpoint (the Web UI) can reach /encode and
	// /decode.
	token    string
	listener net.Listener
	server   *http.Server
}

// startDevCodec resolves dev's keys (creating <data-dir>/codec.key on first
// start) and, when the Web UI runs, reserves the codec endpoint's port, so
// the UI can be told the endpoint before it starts. The endpoint is bound
// to loopback even when --ip is not: it hands out plaintext to whoever
// holds its token, and a remote browser has no way to reach it safely.
func startDevCodec(c *ucli.Context) (*devCodec, error) {
	if c.Bool("no-encryption") {
		return &devCodec{}, nil
	}
	keys, source, err := devKeys(c, c.String("data-dir"))
	if err != nil {
		return nil, err
	}
	d := &devCodec{keys: keys, source: source}
	if c.Int("ui-port") == -1 {
		return d, nil
	}
	host := "127.0.0.1"
	if ip := net.ParseIP(c.String("ip")); ip != nil && ip.IsLoopback() {
		host = ip.String()
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("make codec endpoint token: %w", err)
	}
	d.token = hex.EncodeToString(secret)
	d.listener, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("listen for codec requests: %w", err)
	}
	d.endpoint = "http://" + d.listener.Addr().String() + "/" + d.token
	return d, nil
}

// serve answers codec requests from the Web UI at uiURL, whether the
// browser calls it by IP or as localhost, and only under the endpoint's
// token path and by the endpoint's own address (see hostguard).
func (d *devCodec) serve(uiURL string, logger *slog.Logger) {
	if d.listener == nil {
		return
	}
	origins := []string{uiURL}
	if u, err := url.Parse(uiURL); err == nil {
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
			origins = append(origins, "http://"+net.JoinHostPort("localhost", u.Port()))
		}
	}
	inner := codec.NewHandler(d.keys, codec.HandlerOptions{Origins: origins})
	prefix := []byte("/" + d.token + "/")
	tokened := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := []byte(r.URL.Path)
		if len(p) < len(prefix) || subtle.ConstantTimeCompare(p[:len(prefix)], prefix) != 1 {
			http.NotFound(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	})
	addr := d.listener.Addr().(*net.TCPAddr)
	policy := hostguard.Policy{IP: addr.IP, Port: addr.Port}
	d.server = &http.Server{Handler: policy.WrapHost(tokened), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := d.server.Serve(d.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("codec endpoint stopped", "error", err)
		}
	}()
}

// describe prints how payloads are stored, for dev's banner.
func (d *devCodec) describe(w io.Writer) {
	if d.keys == nil {
		fmt.Fprintln(w, "  Payloads: plaintext (--no-encryption)")
		return
	}
	fmt.Fprintf(w, "  Payloads: encrypted, key %s from %s\n", d.keys.ActiveID(), d.source)
	if d.endpoint != "" {
		fmt.Fprintf(w, "  Codec:    %s/<token> (the Web UI decodes through it; the token is new at each start)\n", strings.TrimSuffix(d.endpoint, "/"+d.token))
	}
}

func (d *devCodec) close() {
	switch {
	case d.server != nil:
		_ = d.server.Close()
	case d.listener != nil:
		_ = d.listener.Close()
	}
}
