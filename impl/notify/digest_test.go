package notify_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
	"github.com/mcpwarden/mcpwarden/impl/notify"
	"github.com/mcpwarden/mcpwarden/impl/notify/smtpsink"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// seedOrg inserts an organization with the given alert_email ("" for none).
func seedOrg(t *testing.T, store *db.Storage, email string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	var e any
	if email != "" {
		e = email
	}
	store.DB().MustExec(`INSERT INTO organizations (id, name, alert_email) VALUES ($1, 'Acme', $2)`, id, e)
	return id
}

func burst(n int, prefix string) []db.NewAlert {
	out := make([]db.NewAlert, n)
	for i := range out {
		out[i] = db.NewAlert{Type: "new_high_risk_server", Severity: "high", Title: fmt.Sprintf("%s alert %d", prefix, i),
			Message: "A new server at high risk.", DedupKey: fmt.Sprintf("%s-%d", prefix, i)}
	}
	return out
}

func smtpWorker(t *testing.T, store *db.Storage, sink *smtpsink.Sink) *notify.DigestWorker {
	cfg, err := notify.ParseSMTPURL(sink.URL("alerts@mcpwarden.test"))
	if err != nil {
		t.Fatal(err)
	}
	return &notify.DigestWorker{Store: store, Mailer: &notify.SMTPMailer{Config: cfg, Timeout: 5 * time.Second}}
}

func pending(t *testing.T, store *db.Storage, org uuid.UUID) int {
	var n int
	if err := store.DB().Get(&n, `SELECT count(*) FROM alert_email_outbox WHERE organization_id = $1 AND sent_at IS NULL`, org); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDigestMailsABurstOfAlertsAsOneEmail: 500 alerts raised at once reach the organization's
// alert_email as one message listing all of them, through go-mail and a real SMTP exchange, and
// the outbox is then empty, so the next run sends nothing.
func TestDigestMailsABurstOfAlertsAsOneEmail(t *testing.T) {
	store := db.New(dbtest.New(t))
	org := seedOrg(t, store, "secops@example.com")
	if _, err := store.InsertAlerts(context.Background(), org, burst(500, "burst")); err != nil {
		t.Fatal(err)
	}
	sink := smtpsink.Start(t)
	w := smtpWorker(t, store, sink)
	mailed, _, err := w.RunOnce(context.Background())
	if err != nil || mailed != 500 {
		t.Fatalf("RunOnce = %d, %v; want 500 alerts mailed", mailed, err)
	}
	msgs := sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d emails, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "alerts@mcpwarden.test" || len(m.To) != 1 || m.To[0] != "secops@example.com" {
		t.Errorf("envelope from %q to %v", m.From, m.To)
	}
	if !strings.Contains(m.Data, "Subject: [mcpwarden] 500 new alerts for Acme (500 high)") {
		t.Errorf("subject missing:\n%.500s", m.Data)
	}
	if n := strings.Count(m.Data, "[HIGH] burst alert "); n != 500 {
		t.Errorf("the email lists %d alerts, want 500", n)
	}
	if n := pending(t, store, org); n != 0 {
		t.Errorf("%d outbox rows still pending", n)
	}
	if mailed, _, _ := w.RunOnce(context.Background()); mailed != 0 || len(sink.Messages()) != 1 {
		t.Errorf("a second run mailed %d alerts / %d emails in total", mailed, len(sink.Messages()))
	}
}

// TestDigestWorkersInSeveralReplicasSendOnce: two workers racing over the same outbox (as two
// replicas would) send the burst once; FOR UPDATE SKIP LOCKED keeps the second off the rows.
func TestDigestWorkersInSeveralReplicasSendOnce(t *testing.T) {
	store := db.New(dbtest.New(t))
	org := seedOrg(t, store, "secops@example.com")
	if _, err := store.InsertAlerts(context.Background(), org, burst(200, "race")); err != nil {
		t.Fatal(err)
	}
	sink := smtpsink.Start(t)
	sink.SetDelay(300 * time.Millisecond) // keep the first sender busy while the others look for work
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := smtpWorker(t, store, sink).RunOnce(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(sink.Messages()); n != 1 {
		t.Fatalf("%d emails, want 1", n)
	}
	if n := strings.Count(sink.Messages()[0].Data, "[HIGH] race alert "); n != 200 {
		t.Errorf("the email lists %d alerts, want 200", n)
	}
}

// TestDigestFailureBacksOffAndKeepsTheRows: when the SMTP server refuses, nothing is marked
// sent; the rows wait with an error and a later next_attempt_at, and go out once it answers.
func TestDigestFailureBacksOffAndKeepsTheRows(t *testing.T) {
	store := db.New(dbtest.New(t))
	org := seedOrg(t, store, "secops@example.com")
	if _, err := store.InsertAlerts(context.Background(), org, burst(3, "fail")); err != nil {
		t.Fatal(err)
	}
	sink := smtpsink.Start(t)
	sink.SetFailData(true)
	w := smtpWorker(t, store, sink)
	w.RetryBase = time.Hour
	if mailed, _, err := w.RunOnce(context.Background()); err != nil || mailed != 0 {
		t.Fatalf("RunOnce = %d, %v", mailed, err)
	}
	var rows []struct {
		Attempts int       `db:"attempts"`
		Next     time.Time `db:"next_attempt_at"`
		Err      *string   `db:"last_error"`
	}
	if err := store.DB().Select(&rows, `SELECT attempts, next_attempt_at, last_error FROM alert_email_outbox WHERE organization_id = $1 AND sent_at IS NULL`, org); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d pending rows, want 3", len(rows))
	}
	for _, r := range rows {
		if r.Attempts != 1 || time.Until(r.Next) < 30*time.Minute || r.Err == nil || !strings.Contains(*r.Err, "451") {
			t.Errorf("row after a failure: attempts %d, next in %v, error %v", r.Attempts, time.Until(r.Next), r.Err)
		}
	}
	// Not due yet: a run now sends nothing even though the server would accept.
	sink.SetFailData(false)
	if mailed, _, _ := w.RunOnce(context.Background()); mailed != 0 {
		t.Fatalf("mailed %d before the retry time", mailed)
	}
	store.DB().MustExec(`UPDATE alert_email_outbox SET next_attempt_at = now() WHERE organization_id = $1`, org)
	if mailed, _, err := w.RunOnce(context.Background()); err != nil || mailed != 3 {
		t.Fatalf("retry mailed %d, %v", mailed, err)
	}
	if len(sink.Messages()) != 1 {
		t.Errorf("%d emails, want 1", len(sink.Messages()))
	}
}

// TestDigestWithoutRecipientOrSMTPMarksRowsSkipped: rows never pile up, whether the organization
// has no alert_email (alerts raised then queue nothing; rows queued before the address was
// removed are skipped) or the server has no SMTP settings.
func TestDigestWithoutRecipientOrSMTPMarksRowsSkipped(t *testing.T) {
	store := db.New(dbtest.New(t))
	noEmail := seedOrg(t, store, "")
	if _, err := store.InsertAlerts(context.Background(), noEmail, burst(2, "silent")); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, store, noEmail); n != 0 {
		t.Fatalf("%d rows queued without an alert_email, want 0", n)
	}
	store.DB().MustExec(`UPDATE organizations SET alert_email = 'gone@example.com' WHERE id = $1`, noEmail)
	if _, err := store.InsertAlerts(context.Background(), noEmail, burst(2, "quiet")); err != nil {
		t.Fatal(err)
	}
	store.DB().MustExec(`UPDATE organizations SET alert_email = NULL WHERE id = $1`, noEmail)
	sink := smtpsink.Start(t)
	if _, _, err := smtpWorker(t, store, sink).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	store.DB().Select(&reasons, `SELECT last_error FROM alert_email_outbox WHERE organization_id = $1 AND sent_at IS NOT NULL`, noEmail)
	if len(reasons) != 2 || reasons[0] != "no alert_email" || len(sink.Messages()) != 0 {
		t.Errorf("no alert_email: reasons %v, %d emails", reasons, len(sink.Messages()))
	}

	withEmail := seedOrg(t, store, "secops@example.com")
	if _, err := store.InsertAlerts(context.Background(), withEmail, burst(2, "nosmtp")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := (&notify.DigestWorker{Store: store}).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, store, withEmail); n != 0 {
		t.Errorf("without SMTP settings %d rows stay pending", n)
	}
}
