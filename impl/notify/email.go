package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	gomail "github.com/wneessen/go-mail"

	"github.com/mcpwarden/mcpwarden/db"
)

// SMTPConfig is MCPWARDEN_SMTP_URL parsed:
//
//	smtp://user:pass@host:587?from=alerts@example.com&tls=starttls
//
// tls is starttls (the default; STARTTLS is required), tls (implicit TLS, the default for the
// smtps:// scheme and port 465) or none (plain text; for a relay on the local network). Port
// defaults to 587, 465 or 25 accordingly. User and password are optional and URL-escaped.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	TLS      string // "starttls", "tls" or "none"
}

// ParseSMTPURL parses MCPWARDEN_SMTP_URL.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	var c SMTPConfig
	u, err := url.Parse(raw)
	if err != nil {
		return c, errors.New("MCPWARDEN_SMTP_URL is not a URL")
	}
	switch u.Scheme {
	case "smtp":
		c.TLS = "starttls"
	case "smtps":
		c.TLS = "tls"
	default:
		return c, errors.New("MCPWARDEN_SMTP_URL must start with smtp:// or smtps://")
	}
	q := u.Query()
	if t := q.Get("tls"); t != "" {
		switch t {
		case "starttls", "tls", "none":
			c.TLS = t
		default:
			return c, fmt.Errorf("MCPWARDEN_SMTP_URL: tls must be starttls, tls or none, not %q", t)
		}
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return c, errors.New("MCPWARDEN_SMTP_URL has no host")
	}
	switch {
	case u.Port() != "":
		if c.Port, err = strconv.Atoi(u.Port()); err != nil || c.Port <= 0 || c.Port > 65535 {
			return c, errors.New("MCPWARDEN_SMTP_URL has an invalid port")
		}
	case c.TLS == "tls":
		c.Port = 465
	case c.TLS == "none":
		c.Port = 25
	default:
		c.Port = 587
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	c.From = q.Get("from")
	if c.From == "" {
		return c, errors.New("MCPWARDEN_SMTP_URL needs a from= address, e.g. ?from=alerts@example.com")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return c, fmt.Errorf("MCPWARDEN_SMTP_URL: from=%q is not an email address", c.From)
	}
	return c, nil
}

// Mailer sends one digest.
type Mailer interface {
	Send(ctx context.Context, d db.EmailDigest) error
}

// SMTPMailer sends digests through go-mail.
type SMTPMailer struct {
	Config  SMTPConfig
	Timeout time.Duration
}

func (m *SMTPMailer) client() (*gomail.Client, error) {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithPort(m.Config.Port), gomail.WithTimeout(timeout)}
	switch m.Config.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.Config.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if m.Config.TLS == "none" {
			// The operator chose plain text; the library otherwise refuses to send a
			// password over it.
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(m.Config.Username), gomail.WithPassword(m.Config.Password))
	}
	return gomail.NewClient(m.Config.Host, opts...)
}

// Send composes and sends one email listing every alert of the digest.
func (m *SMTPMailer) Send(ctx context.Context, d db.EmailDigest) error {
	msg := gomail.NewMsg()
	if err := msg.From(m.Config.From); err != nil {
		return err
	}
	if err := msg.To(d.To); err != nil {
		return fmt.Errorf("alert_email %q: %w", d.To, err)
	}
	subject, body := ComposeDigest(d)
	msg.Subject(subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, body)
	c, err := m.client()
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}

// ComposeDigest returns the subject and plain-text body of a digest.
func ComposeDigest(d db.EmailDigest) (string, string) {
	counts := map[string]int{}
	for _, a := range d.Alerts {
		counts[a.Severity]++
	}
	var parts []string
	for _, level := range []string{"critical", "high", "medium", "low"} {
		if counts[level] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[level], level))
		}
	}
	noun := "alerts"
	if len(d.Alerts) == 1 {
		noun = "alert"
	}
	subject := fmt.Sprintf("[mcpwarden] %d new %s for %s (%s)", len(d.Alerts), noun, oneLine(d.OrganizationName), strings.Join(parts, ", "))
	var b strings.Builder
	fmt.Fprintf(&b, "mcpwarden raised %d new %s for %s.\n\n", len(d.Alerts), noun, oneLine(d.OrganizationName))
	for _, a := range d.Alerts {
		fmt.Fprintf(&b, "[%s] %s\n", strings.ToUpper(a.Severity), oneLine(a.Title))
		if a.ServerName != nil || a.AgentHostname != nil {
			fmt.Fprintf(&b, "  server: %s   host: %s\n", deref(a.ServerName), deref(a.AgentHostname))
		}
		fmt.Fprintf(&b, "  %s\n", oneLine(a.Message))
		fmt.Fprintf(&b, "  raised %s   alert id %s\n\n", a.CreatedAt.UTC().Format(time.RFC3339), a.ID)
	}
	b.WriteString("Review and dismiss them in mcpwarden (GET /alerts/).\n")
	return subject, b.String()
}

func deref(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return oneLine(*s)
}

// oneLine keeps alert text, which may quote agent-reported data, from shaping the email.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// DigestWorker mails each organization's pending alerts as one digest per run.
type DigestWorker struct {
	Store  *db.Storage
	Mailer Mailer // nil: no SMTP settings, pending rows are marked skipped
	Log    *slog.Logger
	// MaxPerEmail caps the alerts listed in one email; a larger backlog goes out in several.
	MaxPerEmail int
	// RetryBase doubles per failed attempt up to RetryMax; after RetryFor since the oldest row
	// was queued, the rows are given up (marked sent with the error).
	RetryBase, RetryMax, RetryFor time.Duration
	Now                           func() time.Time
}

func (w *DigestWorker) defaults() {
	if w.MaxPerEmail <= 0 {
		w.MaxPerEmail = 1000
	}
	if w.RetryBase <= 0 {
		w.RetryBase = 30 * time.Second
	}
	if w.RetryMax <= 0 {
		w.RetryMax = time.Hour
	}
	if w.RetryFor <= 0 {
		w.RetryFor = 24 * time.Hour
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
}

// digestLease is how long a claimed digest's rows stay claimed: longer than sending may take.
const digestLease = 2 * time.Minute

// sendDigest claims the organization's due alerts, mails them as one digest outside any
// transaction, and records the outcome. It returns how many alerts it mailed.
func (w *DigestWorker) sendDigest(ctx context.Context, org uuid.UUID) (int, error) {
	d, ids, err := w.Store.ClaimEmailDigest(ctx, org, w.MaxPerEmail, digestLease)
	if errors.Is(err, db.ErrNothingToSend) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	sendCtx, cancel := context.WithTimeout(ctx, time.Minute)
	sendErr := w.Mailer.Send(sendCtx, d)
	cancel()
	var retryAt time.Time
	if sendErr != nil {
		w.Log.Warn("email digest failed", "organization_id", d.OrganizationID, "alerts", len(d.Alerts), "attempt", d.Attempts+1, "error", sendErr)
		if now := w.Now(); now.Sub(d.Oldest) < w.RetryFor {
			retryAt = now.Add(Backoff(d.Attempts+1, w.RetryBase, w.RetryMax))
		}
	} else {
		w.Log.Info("email digest sent", "organization_id", d.OrganizationID, "alerts", len(d.Alerts))
	}
	// The outcome is recorded even when ctx ended meanwhile: the email went out, or did not.
	if err := w.Store.FinishEmailDigest(context.WithoutCancel(ctx), org, ids, sendErr, retryAt); err != nil {
		return 0, err
	}
	if sendErr != nil {
		return 0, nil
	}
	return len(ids), nil
}

// RunOnce sends one digest per organization with due rows. It returns how many alerts it
// mailed, and more = true when a digest was cut at MaxPerEmail (or more organizations wait) so
// the caller should run again without waiting.
func (w *DigestWorker) RunOnce(ctx context.Context) (mailed int, more bool, err error) {
	w.defaults()
	if w.Mailer == nil {
		_, err := w.Store.SkipPendingEmail(ctx, "smtp not configured")
		return 0, false, err
	}
	const orgBatch = 100
	orgs, err := w.Store.OrgsWithPendingEmail(ctx, orgBatch)
	if err != nil {
		return 0, false, err
	}
	more = len(orgs) == orgBatch
	total := 0
	for _, org := range orgs {
		n, err := w.sendDigest(ctx, org)
		if err != nil {
			return total, false, err
		}
		total += n
		more = more || n >= w.MaxPerEmail
	}
	return total, more, nil
}
