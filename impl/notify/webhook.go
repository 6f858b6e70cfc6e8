// Package notify tells people about alerts outside the API: signed webhook deliveries and
// email digests, both fed by rows written in the transaction that raised the alert (outboxes),
// and both safe to run in several replicas at once (rows are claimed with FOR UPDATE SKIP LOCKED).
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/mcpwarden/mcpwarden/db"
)

// Signature headers, as documented in openapi.yaml (tag Webhooks).
const (
	HeaderTimestamp = "X-Mcpwarden-Timestamp"
	HeaderSignature = "X-Mcpwarden-Signature"
	// HeaderDelivery carries the delivery id: retries repeat it, so receivers can drop
	// duplicates (delivery is at least once).
	HeaderDelivery = "X-Mcpwarden-Delivery"
	HeaderEvent    = "X-Mcpwarden-Event"
)

// Sign returns the X-Mcpwarden-Signature value for body sent at timestamp ts (Unix seconds):
// "v1=" and the hex HMAC-SHA256, keyed with the secret, of "<ts>.<body>".
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify is what a receiver does: recompute the signature, compare in constant time, and refuse
// timestamps further than tolerance from now (replays).
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("bad timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("timestamp outside the tolerance")
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return errors.New("signature mismatch")
	}
	return nil
}

// Envelope is the JSON body of every delivery. Data is the alert (alert.created, in the API's
// Alert shape) or a short description of the test (webhook.test).
type Envelope struct {
	Event      string          `json:"event"`
	DeliveryID string          `json:"delivery_id"`
	CreatedAt  time.Time       `json:"created_at"`
	Data       json.RawMessage `json:"data"`
}

// NewHTTPClient returns the client deliveries use: a 10 s timeout, no proxy (a proxy would dial
// on our behalf, past the address check), no redirects (a 3xx counts as a failed attempt), and,
// unless allowPrivate, a dialer that refuses internal addresses at connect time.
func NewHTTPClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = dialControl
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          50,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// WebhookWorker delivers queued webhook deliveries.
type WebhookWorker struct {
	Store  *db.Storage
	Client *http.Client
	Log    *slog.Logger
	// RetryBase is the first retry delay, doubled per attempt up to RetryMax; after RetryFor
	// since the delivery was queued, a failed attempt marks it failed.
	RetryBase, RetryMax, RetryFor time.Duration
	// Batch deliveries are claimed at a time and posted with Parallel goroutines.
	Batch, Parallel int
	Now             func() time.Time
}

func (w *WebhookWorker) defaults() {
	if w.RetryBase <= 0 {
		w.RetryBase = 30 * time.Second
	}
	if w.RetryMax <= 0 {
		w.RetryMax = time.Hour
	}
	if w.RetryFor <= 0 {
		w.RetryFor = 24 * time.Hour
	}
	if w.Batch <= 0 {
		w.Batch = 50
	}
	if w.Parallel <= 0 {
		w.Parallel = 8
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
	if w.Client == nil {
		w.Client = NewHTTPClient(false)
	}
}

// lease is how long a claimed delivery stays hidden from other workers: longer than the HTTP
// timeout, so a live worker always finishes first.
const lease = time.Minute

// RunOnce claims one batch of due deliveries and posts them; it returns how many it handled.
func (w *WebhookWorker) RunOnce(ctx context.Context) (int, error) {
	w.defaults()
	due, err := w.Store.ClaimDueDeliveries(ctx, w.Batch, lease)
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, w.Parallel)
	var wg sync.WaitGroup
	for _, d := range due {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res := w.deliver(ctx, d)
			// Record the outcome even when shutdown cancelled ctx mid-way.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := w.Store.FinishDelivery(fctx, d, res); err != nil {
				w.Log.Error("webhook: record delivery", "delivery_id", d.ID, "error", err)
			}
		}()
	}
	wg.Wait()
	return len(due), nil
}

// Backoff is the delay after the attempts-th failed attempt: base doubled per attempt, spread by
// up to a quarter either way at random, and never more than max. The spread (jitter) keeps the
// deliveries that piled up while a receiver was down from all coming back at the same instant.
func Backoff(attempts int, base, max time.Duration) time.Duration {
	b := &backoff.ExponentialBackOff{
		InitialInterval: base, Multiplier: 2, RandomizationFactor: jitter,
		// The library caps the interval before spreading it.
		MaxInterval: time.Duration(float64(max) / (1 + jitter)),
	}
	b.Reset()
	d := b.NextBackOff()
	for i := 1; i < attempts; i++ {
		d = b.NextBackOff()
	}
	return min(d, max)
}

// jitter is how far, as a fraction, Backoff spreads each delay either way.
const jitter = 0.25

func (w *WebhookWorker) deliver(ctx context.Context, d db.DueDelivery) db.DeliveryResult {
	var body []byte
	var err error
	if d.Format == "slack" {
		body, err = SlackMessage(d.Event, d.Payload)
	} else {
		body, err = json.Marshal(Envelope{Event: d.Event, DeliveryID: d.ID.String(), CreatedAt: d.CreatedAt.UTC(), Data: d.Payload})
	}
	if err != nil {
		return db.DeliveryResult{Error: err.Error()}
	}
	res := w.post(ctx, d, body)
	if res.Succeeded {
		return res
	}
	now := w.Now()
	if now.Sub(d.CreatedAt) < w.RetryFor {
		res.RetryAt = now.Add(Backoff(d.Attempts, w.RetryBase, w.RetryMax))
	}
	level := slog.LevelWarn
	if res.RetryAt.IsZero() {
		level = slog.LevelError
	}
	w.Log.Log(ctx, level, "webhook delivery failed", "delivery_id", d.ID, "webhook_id", d.WebhookID,
		"attempt", d.Attempts, "status_code", res.StatusCode, "error", res.Error, "retry_at", res.RetryAt)
	return res
}

func (w *WebhookWorker) post(ctx context.Context, d db.DueDelivery, body []byte) db.DeliveryResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return db.DeliveryResult{Error: "bad URL: " + err.Error()}
	}
	ts := w.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mcpwarden-webhooks/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(d.Secret, ts, body))
	req.Header.Set(HeaderDelivery, d.ID.String())
	req.Header.Set(HeaderEvent, d.Event)
	resp, err := w.Client.Do(req)
	if err != nil {
		return db.DeliveryResult{Error: err.Error()}
	}
	defer resp.Body.Close()
	// Read a little so the connection can be reused; the body is otherwise ignored.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return db.DeliveryResult{Succeeded: true, StatusCode: resp.StatusCode}
	}
	return db.DeliveryResult{StatusCode: resp.StatusCode, Error: fmt.Sprintf("the endpoint answered %d", resp.StatusCode)}
}

// SlackMessage is the body a slack endpoint receives: a Slack incoming-webhook message, with
// `text` for notifications and `blocks` for the channel. An alert (alert.created) shows its
// severity, title, message, server and agent; a test delivery (webhook.test) its message.
func SlackMessage(event string, payload json.RawMessage) ([]byte, error) {
	var data struct {
		Severity      string  `json:"severity"`
		Title         string  `json:"title"`
		Message       string  `json:"message"`
		ServerName    *string `json:"server_name"`
		AgentHostname *string `json:"agent_hostname"`
		AgentID       *string `json:"agent_id"`
	}
	if err := json.Unmarshal(payload, &data); err != nil {
		return nil, err
	}
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type block struct {
		Type   string `json:"type"`
		Text   *text  `json:"text,omitempty"`
		Fields []text `json:"fields,omitempty"`
	}
	var summary string
	var blocks []block
	if event == "webhook.test" {
		summary = "mcpwarden test delivery: " + data.Message
		blocks = []block{{Type: "section", Text: &text{"mrkdwn", "*mcpwarden test delivery*\n" + slackEscape(data.Message)}}}
	} else {
		summary = fmt.Sprintf("[%s] %s", strings.ToUpper(data.Severity), data.Title)
		server, agent := "-", "-"
		if data.ServerName != nil {
			server = *data.ServerName
		}
		if data.AgentHostname != nil {
			agent = *data.AgentHostname
		} else if data.AgentID != nil {
			agent = *data.AgentID
		}
		blocks = []block{
			{Type: "header", Text: &text{"plain_text", summary}},
			{Type: "section", Text: &text{"mrkdwn", slackEscape(data.Message)}},
			{Type: "section", Fields: []text{
				{"mrkdwn", "*Severity*\n" + slackEscape(data.Severity)},
				{"mrkdwn", "*Server*\n" + slackEscape(server)},
				{"mrkdwn", "*Agent*\n" + slackEscape(agent)},
			}},
		}
	}
	return json.Marshal(struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{summary, blocks})
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning to (&, <, >), so a server
// name cannot become a link or a mention.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
