package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook body's signature:
// t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">, as Stripe signs,
// so a receiver can check both origin and age.
const SignatureHeader = "Stead-Signature"

// IDHeader carries the event's id, for receivers that de-duplicate before
// parsing the body.
const IDHeader = "Stead-Event-Id"

// Webhook POSTs each event as JSON to a URL, signed when Secret is set.
type Webhook struct {
	URL    string
	Secret []byte
	// Client sends the requests; nil uses one with a ten-second timeout.
	Client *http.Client
	// Now is the clock of the signature's timestamp.
	Now func() time.Time
}

// NewWebhook checks the URL and makes its sink.
func NewWebhook(rawURL string, secret []byte) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("event webhook %q: want an http:// or https:// URL", rawURL)
	}
	return &Webhook{URL: rawURL, Secret: secret, Client: &http.Client{Timeout: 10 * time.Second}}, nil
}

// Name is the URL without its query or credentials, which may hold tokens.
func (w *Webhook) Name() string {
	u, err := url.Parse(w.URL)
	if err != nil {
		return "webhook"
	}
	return "webhook " + u.Scheme + "://" + u.Host + u.Path
}

// Send POSTs the event; any status but 2xx is a failure.
func (w *Webhook) Send(ctx context.Context, ev Event, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(IDHeader, ev.ID)
	if len(w.Secret) > 0 {
		now := time.Now
		if w.Now != nil {
			now = w.Now
		}
		req.Header.Set(SignatureHeader, Sign(w.Secret, now(), body))
	}
	c := w.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("post event: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post event: %s", resp.Status)
	}
	return nil
}

// Sign is the Stead-Signature header value of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a Stead-Signature header against body, for receivers: the
// signature must be the secret's and no older than tolerance at now.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("verify signature: header is not t=<unix>,v1=<hex>")
	}
	if age := now.Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("verify signature: signed %s ago, more than %s", age.Round(time.Second), tolerance)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("verify signature: no v1 signature matches")
}
