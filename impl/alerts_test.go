package impl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
	"github.com/mcpwarden/mcpwarden/impl/notify/smtpsink"
)

// seedAgentRow inserts an agent seen `seen` ago (never, when seen < 0) and returns its id.
func seedAgentRow(t *testing.T, env *apitest.Env, orgID uuid.UUID, hostname string, seen time.Duration) uuid.UUID {
	t.Helper()
	id := uuid.New()
	var lastSeen any
	if seen >= 0 {
		lastSeen = time.Now().Add(-seen)
	}
	env.Store.DB().MustExec(`INSERT INTO agents (organization_id, id, name, key_hash, key_prefix, hostname, last_seen_at)
		VALUES ($1, $2, $3, $4, 'mcp_sk_x', $3, $5)`, orgID, id, hostname, []byte(id.String()), lastSeen)
	return id
}

// seedServerRow inserts an inventory row directly (the dashboard reads whatever ingestion wrote),
// with the counters' deltas, as every statement that inserts servers writes them.
func seedServerRow(t *testing.T, env *apitest.Env, orgID, agentID uuid.UUID, name, typ, level string, score int, status string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	env.Store.DB().MustExec(`
		WITH s AS (
			INSERT INTO mcp_servers (organization_id, id, agent_id, server_name, server_type, command,
				config_hash, risk_level, risk_score, risk_factors, status)
			VALUES ($1, $2, $3, $4, $5, 'npx '||$5, '\x00', $6, $7,
				'[{"id":"MCPW-TEST","severity":"high","title":"t","detail":"d","evidence":"e"}]', $8)
			RETURNING status, risk_level, server_name, server_type
		), counted AS (
			INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n)
			SELECT $1, status, risk_level, server_name, server_type, 1 FROM s
		)
		INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
		SELECT $1, risk_level, server_type, 1 FROM s WHERE status = 'active'`,
		orgID, id, agentID, name, typ, level, score, status)
	return id
}

// changeServersDirectly runs change, which updates mcp_servers rows directly, and writes in the
// same transaction the counters' deltas of what it changed (a recount after less one before), as
// the statements of ingestion and the jobs write their own.
func changeServersDirectly(t *testing.T, env *apitest.Env, orgID uuid.UUID, change func(tx *sqlx.Tx)) {
	t.Helper()
	tx := env.Store.DB().MustBegin()
	defer tx.Rollback()
	tx.MustExec(`CREATE TEMP TABLE counted_before ON COMMIT DROP AS
		SELECT status, risk_level, server_name, server_type, count(*) AS n
		FROM mcp_servers WHERE organization_id = $1 GROUP BY 1, 2, 3, 4`, orgID)
	change(tx)
	tx.MustExec(`
		WITH delta AS (
			SELECT status, risk_level, server_name, server_type, sum(n)::bigint AS n FROM (
				SELECT status, risk_level, server_name, server_type, count(*) AS n
				FROM mcp_servers WHERE organization_id = $1 GROUP BY 1, 2, 3, 4
				UNION ALL SELECT status, risk_level, server_name, server_type, -n FROM counted_before
			) d GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0
		), counted AS (
			INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n)
			SELECT $1, status, risk_level, server_name, server_type, n FROM delta
		)
		INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
		SELECT $1, risk_level, server_type, sum(n) FROM delta WHERE status = 'active' GROUP BY 2, 3 HAVING sum(n) <> 0`, orgID)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func raise(t *testing.T, env *apitest.Env, orgID uuid.UUID, alerts ...db.NewAlert) []uuid.UUID {
	t.Helper()
	ids, err := env.Store.InsertAlerts(context.Background(), orgID, alerts)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func newAlert(key, severity string) db.NewAlert {
	return db.NewAlert{Type: "new_high_risk_server", Severity: severity, Title: "Alert " + key, Message: "Something to look at.", DedupKey: key}
}

func listAlerts(t *testing.T, c *mcpwarden.ClientWithResponses, params mcpwarden.ListAlertsParams) mcpwarden.AlertList {
	t.Helper()
	resp, err := c.ListAlertsWithResponse(context.Background(), &params)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("list alerts: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

func TestAlertListFiltersPagesNewestFirst(t *testing.T) {
	env := apitest.New(t)
	user, token := env.SeedUser(t, "member")
	c := env.User(token)

	if l := listAlerts(t, c, mcpwarden.ListAlertsParams{}); l.Total != 0 || l.Items == nil || l.Page != 1 || l.PageSize != 25 {
		t.Fatalf("empty list: %+v", l)
	}
	agent := seedAgentRow(t, env, user.OrganizationID, "laptop-1", 0)
	server := seedServerRow(t, env, user.OrganizationID, agent, "files", "@mcp/files", "critical", 90, "active")
	name, host := "files", "laptop-1"
	first := newAlert("a", "critical")
	first.ServerID, first.ServerName, first.AgentID, first.AgentHostname = &server, &name, &agent, &host
	raise(t, env, user.OrganizationID, first)
	raise(t, env, user.OrganizationID, newAlert("b", "high"))
	raise(t, env, user.OrganizationID, newAlert("c", "high"))
	// Spread the creation times so "newest first" is observable.
	env.Store.DB().MustExec(`UPDATE alerts SET created_at = now() - (CASE dedup_key WHEN 'a' THEN 3 WHEN 'b' THEN 2 ELSE 1 END) * interval '1 minute'`)
	other, _ := env.SeedUser(t, "admin")
	raise(t, env, other.OrganizationID, newAlert("x", "high")) // another tenant's

	all := listAlerts(t, c, mcpwarden.ListAlertsParams{})
	if all.Total != 3 || len(all.Items) != 3 || all.Items[0].Title != "Alert c" || all.Items[2].Title != "Alert a" {
		t.Fatalf("all alerts: %+v", all)
	}
	a := all.Items[2]
	if a.ServerId == nil || *a.ServerId != server || *a.AgentHostname != "laptop-1" || *a.ServerName != "files" || a.Dismissed || a.DismissedAt != nil {
		t.Errorf("alert fields: %+v", a)
	}
	high := mcpwarden.RiskLevel("high")
	if l := listAlerts(t, c, mcpwarden.ListAlertsParams{Severity: &high}); l.Total != 2 {
		t.Errorf("severity=high: %d", l.Total)
	}
	page, size := int32(2), int32(2)
	if l := listAlerts(t, c, mcpwarden.ListAlertsParams{Page: &page, PageSize: &size}); l.Total != 3 || len(l.Items) != 1 || l.Items[0].Title != "Alert a" || l.Page != 2 || l.PageSize != 2 {
		t.Errorf("page 2 of 2: %+v", l)
	}
	far := int32(99)
	if l := listAlerts(t, c, mcpwarden.ListAlertsParams{Page: &far}); l.Total != 3 || len(l.Items) != 0 {
		t.Errorf("past the end: %+v", l)
	}
	resp := env.Do(authedAlerts(httptest.NewRequest(http.MethodGet, "/alerts/?page_size=101", nil), token))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("page_size=101: %d", resp.StatusCode)
	}
	resp = env.Do(authedAlerts(httptest.NewRequest(http.MethodGet, "/alerts?severity=urgent", nil), token))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("severity=urgent: %d", resp.StatusCode)
	}

	yes, no := true, false
	if l := listAlerts(t, c, mcpwarden.ListAlertsParams{Dismissed: &yes}); l.Total != 0 {
		t.Errorf("dismissed=true before dismissing: %d", l.Total)
	}
	if _, err := c.DismissAlertWithResponse(context.Background(), a.Id); err != nil {
		t.Fatal(err)
	}
	if l := listAlerts(t, c, mcpwarden.ListAlertsParams{Dismissed: &yes}); l.Total != 1 || l.Items[0].Id != a.Id {
		t.Errorf("dismissed=true: %+v", l)
	}
	if l := listAlerts(t, c, mcpwarden.ListAlertsParams{Dismissed: &no}); l.Total != 2 {
		t.Errorf("dismissed=false: %d", l.Total)
	}
}

func authedAlerts(r *http.Request, token string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func TestDismissAlertRecordsWhoAndWhenAndHidesOtherOrganizations(t *testing.T) {
	env := apitest.New(t)
	user, token := env.SeedUser(t, "member")
	c := env.User(token)
	ids := raise(t, env, user.OrganizationID, newAlert("a", "critical"))

	before := time.Now().Add(-time.Second)
	resp, err := c.DismissAlertWithResponse(context.Background(), ids[0])
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("dismiss: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	got := resp.JSON200
	if !got.Dismissed || got.DismissedAt == nil || got.DismissedAt.Before(before) || got.DismissedBy == nil || *got.DismissedBy != user.ID {
		t.Errorf("dismissed alert: %+v", got)
	}
	// Dismissing again keeps the first record.
	again, _ := c.DismissAlertWithResponse(context.Background(), ids[0])
	if again.JSON200 == nil || !again.JSON200.DismissedAt.Equal(*got.DismissedAt) {
		t.Errorf("second dismissal changed the record: %s", again.Body)
	}

	_, otherToken := env.SeedUser(t, "admin")
	for name, id := range map[string]uuid.UUID{"another organization's alert": ids[0], "an unknown id": uuid.New()} {
		r, err := env.User(otherToken).DismissAlertWithResponse(context.Background(), id)
		if err != nil || r.StatusCode() != http.StatusNotFound || r.ApplicationproblemJSON404 == nil {
			t.Errorf("%s: %v %d %s", name, err, r.StatusCode(), r.Body)
		}
	}
	var dismissed bool
	env.Store.DB().Get(&dismissed, `SELECT dismissed FROM alerts WHERE id = $1`, ids[0])
	if !dismissed {
		t.Error("the alert is no longer dismissed")
	}
	// A dismissed condition may be raised again: it is a new alert.
	if again := raise(t, env, user.OrganizationID, newAlert("a", "critical")); len(again) != 1 {
		t.Errorf("raising a dismissed condition again created %d alerts", len(again))
	}
}

func TestDismissAllAlertsOptionallyBySeverity(t *testing.T) {
	env := apitest.New(t)
	user, token := env.SeedUser(t, "member")
	c := env.User(token)
	raise(t, env, user.OrganizationID, newAlert("c1", "critical"), newAlert("c2", "critical"), newAlert("h1", "high"), newAlert("l1", "low"))
	other, _ := env.SeedUser(t, "admin")
	raise(t, env, other.OrganizationID, newAlert("o1", "critical"))

	critical := mcpwarden.RiskLevel("critical")
	resp, err := c.DismissAllAlertsWithResponse(context.Background(), &mcpwarden.DismissAllAlertsParams{Severity: &critical})
	if err != nil || resp.JSON200 == nil || resp.JSON200.Dismissed != 2 {
		t.Fatalf("dismiss-all critical: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	// No body, no parameters: the rest.
	r := env.Do(authedAlerts(httptest.NewRequest(http.MethodPost, "/alerts/dismiss-all", nil), token))
	var body struct{ Dismissed int }
	json.NewDecoder(r.Body).Decode(&body)
	if r.StatusCode != http.StatusOK || body.Dismissed != 2 {
		t.Fatalf("dismiss-all: %d %+v", r.StatusCode, body)
	}
	if resp, _ := c.DismissAllAlertsWithResponse(context.Background(), nil); resp.JSON200 == nil || resp.JSON200.Dismissed != 0 {
		t.Errorf("dismiss-all with nothing open: %s", resp.Body)
	}
	var byUser int
	env.Store.DB().Get(&byUser, `SELECT count(*) FROM alerts WHERE organization_id = $1 AND dismissed_by = $2 AND dismissed_at IS NOT NULL`, user.OrganizationID, user.ID)
	var otherOpen int
	env.Store.DB().Get(&otherOpen, `SELECT count(*) FROM alerts WHERE organization_id = $1 AND NOT dismissed`, other.OrganizationID)
	if byUser != 4 || otherOpen != 1 {
		t.Errorf("dismissed by the user: %d (want 4); other organization's open alerts: %d (want 1)", byUser, otherOpen)
	}
}

// TestInsertAlertsIsExactlyOnceAndQueuesEveryChannel: twenty transactions raising the same
// condition at once create one alert, one email outbox row and one webhook delivery per
// endpoint, and the delivery's payload is the alert exactly as GET /alerts/ shows it.
func TestInsertAlertsIsExactlyOnceAndQueuesEveryChannel(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) { c.WebhookAllowPrivate = true; c.WebhookPollInterval = time.Hour })
	admin, token := env.SeedUser(t, "admin")
	env.Store.DB().MustExec(`UPDATE organizations SET alert_email = 'security@example.com' WHERE id = $1`, admin.OrganizationID)
	for i := range 2 {
		createWebhook(t, env, token, fmt.Sprintf("http://127.0.0.1:%d/hook", 9000+i))
	}
	var wg sync.WaitGroup
	created := make(chan int, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids, err := env.Store.InsertAlerts(context.Background(), admin.OrganizationID, []db.NewAlert{newAlert("same", "critical"), newAlert(uuid.NewString(), "low")})
			if err != nil {
				t.Error(err)
			}
			created <- len(ids)
		}()
	}
	wg.Wait()
	close(created)
	total := 0
	for n := range created {
		total += n
	}
	var alerts, outbox, deliveries int
	db := env.Store.DB()
	db.Get(&alerts, `SELECT count(*) FROM alerts WHERE dedup_key = 'same'`)
	db.Get(&outbox, `SELECT count(*) FROM alert_email_outbox o JOIN alerts a ON a.id = o.alert_id WHERE a.dedup_key = 'same'`)
	db.Get(&deliveries, `SELECT count(*) FROM webhook_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.dedup_key = 'same' AND d.event = 'alert.created'`)
	if total != 21 || alerts != 1 || outbox != 1 || deliveries != 2 {
		t.Fatalf("created %d (want 21); 'same': %d alerts, %d outbox rows, %d deliveries (want 1, 1, 2)", total, alerts, outbox, deliveries)
	}

	var payload []byte
	db.Get(&payload, `SELECT d.payload FROM webhook_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.dedup_key = 'same' LIMIT 1`)
	critical := mcpwarden.RiskLevel("critical")
	list := listAlerts(t, env.User(token), mcpwarden.ListAlertsParams{Severity: &critical})
	if len(list.Items) != 1 {
		t.Fatalf("%d critical alerts listed", len(list.Items))
	}
	want, _ := json.Marshal(list.Items[0])
	var a, b map[string]any
	json.Unmarshal(payload, &a)
	json.Unmarshal(want, &b)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("webhook payload\n%s\ndiffers from the API's alert\n%s", payload, want)
	}
}

// TestEmailDigestThroughTheServer: with MCPWARDEN_SMTP_URL set, the server's own worker mails a
// burst of 500 alerts to the organization's alert_email as exactly one email.
func TestEmailDigestThroughTheServer(t *testing.T) {
	sink := smtpsink.Start(t)
	env := apitest.New(t, func(c *config.Server) {
		c.SMTPURL = sink.URL("alerts@mcpwarden.test")
		c.EmailDigestInterval = 100 * time.Millisecond
	})
	user, _ := env.SeedUser(t, "admin")
	env.Store.DB().MustExec(`UPDATE organizations SET alert_email = 'secops@example.com' WHERE id = $1`, user.OrganizationID)
	alerts := make([]db.NewAlert, 500)
	for i := range alerts {
		alerts[i] = newAlert(fmt.Sprintf("burst-%d", i), "critical")
	}
	raise(t, env, user.OrganizationID, alerts...)
	// Once every queued alert is marked sent, no later run can mail any of them again.
	waitFor(t, "every alert marked sent", func() bool {
		var pending, sent int
		env.Store.DB().Get(&pending, `SELECT count(*) FROM alert_email_outbox WHERE organization_id = $1 AND sent_at IS NULL`, user.OrganizationID)
		env.Store.DB().Get(&sent, `SELECT count(*) FROM alert_email_outbox WHERE organization_id = $1 AND sent_at IS NOT NULL`, user.OrganizationID)
		return pending == 0 && sent == 500
	})
	msgs := sink.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "secops@example.com" || strings.Count(msgs[0].Data, "[CRITICAL] Alert burst-") != 500 {
		t.Fatalf("%d emails; first to %v", len(msgs), msgs[0].To)
	}
}

// TestAlertsQueueEmailOnlyWithAnAlertAddress: an organization without an alert address queues
// no email for its alerts (nothing would ever send it); once it has one, its new alerts are
// queued.
func TestAlertsQueueEmailOnlyWithAnAlertAddress(t *testing.T) {
	env := apitest.New(t)
	admin, _ := env.SeedUser(t, "admin")
	org := admin.OrganizationID
	queued := func() (n int) {
		env.Store.DB().Get(&n, `SELECT count(*) FROM alert_email_outbox WHERE organization_id = $1`, org)
		return n
	}
	if ids, err := env.Store.InsertAlerts(context.Background(), org, []db.NewAlert{newAlert("before", "critical")}); err != nil || len(ids) != 1 {
		t.Fatalf("insert: %v, %v", ids, err)
	}
	if n := queued(); n != 0 {
		t.Fatalf("%d emails queued without an alert address, want 0", n)
	}
	env.Store.DB().MustExec(`UPDATE organizations SET alert_email = 'security@example.com' WHERE id = $1`, org)
	if ids, err := env.Store.InsertAlerts(context.Background(), org, []db.NewAlert{newAlert("after", "critical")}); err != nil || len(ids) != 1 {
		t.Fatalf("insert: %v, %v", ids, err)
	}
	if n := queued(); n != 1 {
		t.Fatalf("%d emails queued once the address is set, want 1", n)
	}
}
