package impl_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
	"github.com/mcpwarden/mcpwarden/impl/notify"
)

func createWebhook(t *testing.T, env *apitest.Env, token, url string) mcpwarden.WebhookWithSecret {
	t.Helper()
	resp, err := env.User(token).CreateWebhookWithResponse(context.Background(), mcpwarden.CreateWebhookJSONRequestBody{Url: url})
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create webhook %s: %v %d %s", url, err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

func deliveries(t *testing.T, env *apitest.Env, token string, id uuid.UUID) mcpwarden.WebhookDeliveryList {
	t.Helper()
	resp, err := env.User(token).ListWebhookDeliveriesWithResponse(context.Background(), id, nil)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("deliveries: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWebhooksAreAdminOnly(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) { c.WebhookAllowPrivate = true })
	admin, adminToken := env.SeedUser(t, "admin")
	hook := createWebhook(t, env, adminToken, "http://127.0.0.1:1/hook")
	_, token := env.SeedMember(t, admin.OrganizationID, "member")
	c := env.User(token)
	ctx := context.Background()
	check := func(op string, status int, err error) {
		t.Helper()
		if err != nil || status != http.StatusForbidden {
			t.Errorf("%s as a member: %v %d, want 403", op, err, status)
		}
	}
	l, err := c.ListWebhooksWithResponse(ctx)
	check("list", l.StatusCode(), err)
	cr, err := c.CreateWebhookWithResponse(ctx, mcpwarden.CreateWebhookJSONRequestBody{Url: "https://hooks.example.com/x"})
	check("create", cr.StatusCode(), err)
	d, err := c.DeleteWebhookWithResponse(ctx, hook.Id)
	check("delete", d.StatusCode(), err)
	tw, err := c.TestWebhookWithResponse(ctx, hook.Id)
	check("test", tw.StatusCode(), err)
	ld, err := c.ListWebhookDeliveriesWithResponse(ctx, hook.Id, nil)
	check("deliveries", ld.StatusCode(), err)
	if l.ApplicationproblemJSON403 == nil || !strings.Contains(l.ApplicationproblemJSON403.Detail, "admin") {
		t.Errorf("403 body: %s", l.Body)
	}
}

// TestWebhookToLoopbackIsRefusedByDefault: internal addresses are refused with a 400 naming the
// url field, and accepted once the server runs with WebhookAllowPrivate.
func TestWebhookToLoopbackIsRefusedByDefault(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	for _, url := range []string{
		"http://127.0.0.1:8080/hook", "http://[::1]/hook", "http://localhost:9000/", "http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.7/hook", "http://[fd00:ec2::254]/", "http://100.64.1.1/", "http://0.0.0.0/",
		"ftp://hooks.example.com/x",
	} {
		resp, err := env.User(token).CreateWebhookWithResponse(context.Background(), mcpwarden.CreateWebhookJSONRequestBody{Url: url})
		if err != nil {
			t.Fatal(err)
		}
		p := resp.ApplicationproblemJSON400
		if resp.StatusCode() != http.StatusBadRequest || p == nil || p.Errors == nil || (*p.Errors)[0].Field != "url" {
			t.Errorf("%s: %d %s", url, resp.StatusCode(), resp.Body)
		}
	}
	list, _ := env.User(token).ListWebhooksWithResponse(context.Background())
	if list.JSON200 == nil || len(list.JSON200.Items) != 0 {
		t.Errorf("refused webhooks were stored: %s", list.Body)
	}

	open := apitest.New(t, func(c *config.Server) { c.WebhookAllowPrivate = true })
	_, token = open.SeedUser(t, "admin")
	createWebhook(t, open, token, "http://127.0.0.1:8080/hook")
}

func TestWebhookLifecycle(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) { c.WebhookAllowPrivate = true; c.WebhookPollInterval = time.Hour })
	_, token := env.SeedUser(t, "admin")
	c := env.User(token)
	ctx := context.Background()

	if l, _ := c.ListWebhooksWithResponse(ctx); l.JSON200 == nil || l.JSON200.Items == nil || len(l.JSON200.Items) != 0 {
		t.Fatalf("empty list: %s", l.Body)
	}
	desc := "SIEM"
	cr, err := c.CreateWebhookWithResponse(ctx, mcpwarden.CreateWebhookJSONRequestBody{Url: "http://127.0.0.1:9/in", Description: &desc})
	if err != nil || cr.JSON201 == nil {
		t.Fatalf("create: %v %s", err, cr.Body)
	}
	hook := cr.JSON201
	if !strings.HasPrefix(hook.Secret, "whsec_") || len(hook.Secret) < 40 || hook.Description != "SIEM" || hook.Url != "http://127.0.0.1:9/in" {
		t.Errorf("created: %+v", hook)
	}
	l, _ := c.ListWebhooksWithResponse(ctx)
	if l.JSON200 == nil || len(l.JSON200.Items) != 1 || strings.Contains(string(l.Body), hook.Secret) {
		t.Errorf("list (must not show the secret): %s", l.Body)
	}

	tw, err := c.TestWebhookWithResponse(ctx, hook.Id)
	if err != nil || tw.JSON202 == nil || tw.JSON202.Event != "webhook.test" || tw.JSON202.Status != "pending" || tw.JSON202.AlertId != nil {
		t.Fatalf("test: %v %s", err, tw.Body)
	}
	if d := deliveries(t, env, token, hook.Id); d.Total != 1 || d.Items[0].Id != tw.JSON202.Id {
		t.Errorf("deliveries after a test: %+v", d)
	}

	// Another organization's admin sees none of it.
	_, otherToken := env.SeedUser(t, "admin")
	o := env.User(otherToken)
	if r, _ := o.DeleteWebhookWithResponse(ctx, hook.Id); r.StatusCode() != http.StatusNotFound {
		t.Errorf("other org delete: %d", r.StatusCode())
	}
	if r, _ := o.TestWebhookWithResponse(ctx, hook.Id); r.StatusCode() != http.StatusNotFound {
		t.Errorf("other org test: %d", r.StatusCode())
	}
	if r, _ := o.ListWebhookDeliveriesWithResponse(ctx, hook.Id, nil); r.StatusCode() != http.StatusNotFound {
		t.Errorf("other org deliveries: %d", r.StatusCode())
	}

	if r, _ := c.DeleteWebhookWithResponse(ctx, hook.Id); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := c.DeleteWebhookWithResponse(ctx, hook.Id); r.StatusCode() != http.StatusNotFound {
		t.Errorf("second delete: %d", r.StatusCode())
	}
	if r, _ := c.ListWebhookDeliveriesWithResponse(ctx, hook.Id, nil); r.StatusCode() != http.StatusNotFound {
		t.Errorf("deliveries of a deleted webhook: %d", r.StatusCode())
	}
	var left int
	env.Store.DB().Get(&left, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1`, hook.Id)
	if left != 0 {
		t.Errorf("%d deliveries survive their webhook", left)
	}
}

// receiver is a webhook endpoint that verifies signatures and answers from a script.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	codes  []int // answers, in order; 200 once exhausted
	got    []notify.Envelope
	bad    []string
	srv    *httptest.Server
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{t: t, codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := notify.Verify(r.secret, req.Header.Get("X-Mcpwarden-Timestamp"), req.Header.Get("X-Mcpwarden-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			r.bad = append(r.bad, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var env notify.Envelope
		if err := json.Unmarshal(body, &env); err != nil || req.Header.Get("Content-Type") != "application/json" || req.Header.Get("X-Mcpwarden-Delivery") != env.DeliveryID {
			r.bad = append(r.bad, "bad body or headers: "+string(body))
		}
		r.got = append(r.got, env)
		code := http.StatusOK
		if len(r.codes) > 0 {
			code, r.codes = r.codes[0], r.codes[1:]
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received() []notify.Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Envelope(nil), r.got...)
}

// TestWebhookDeliveryIsSignedAndRetriedAfterA500: a new alert reaches the endpoint as a signed
// POST; the endpoint's 500 makes the worker retry (after the configured backoff), and the
// delivery log records both attempts and the success.
func TestWebhookDeliveryIsSignedAndRetriedAfterA500(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) {
		c.WebhookAllowPrivate = true
		c.WebhookPollInterval = 20 * time.Millisecond
		c.WebhookRetryBase = 100 * time.Millisecond
	})
	admin, token := env.SeedUser(t, "admin")
	rcv := newReceiver(t, http.StatusInternalServerError)
	hook := createWebhook(t, env, token, rcv.srv.URL+"/mcpwarden")
	rcv.mu.Lock()
	rcv.secret = hook.Secret
	rcv.mu.Unlock()

	ids := raise(t, env, admin.OrganizationID, newAlert("hooked", "critical"))
	waitFor(t, "two delivery attempts", func() bool { return len(rcv.received()) >= 2 })
	waitFor(t, "the delivery to be recorded as succeeded", func() bool {
		d := deliveries(t, env, token, hook.Id)
		return len(d.Items) == 1 && d.Items[0].Status == "succeeded"
	})
	rcv.mu.Lock()
	if len(rcv.bad) > 0 {
		t.Errorf("the receiver refused: %v", rcv.bad)
	}
	rcv.mu.Unlock()
	got := rcv.received()
	if len(got) != 2 || got[0].DeliveryID != got[1].DeliveryID || got[0].Event != "alert.created" {
		t.Fatalf("received %+v", got)
	}
	var alert mcpwarden.Alert
	if err := json.Unmarshal(got[1].Data, &alert); err != nil || alert.Id != ids[0] || alert.Title != "Alert hooked" || alert.Severity != "critical" {
		t.Errorf("data %s: %v", got[1].Data, err)
	}
	d := deliveries(t, env, token, hook.Id).Items[0]
	if d.Attempts != 2 || d.LastStatusCode == nil || *d.LastStatusCode != 200 || d.DeliveredAt == nil || d.AlertId == nil || *d.AlertId != ids[0] || d.NextAttemptAt != nil {
		t.Errorf("delivery log: %+v", d)
	}

	// The test button goes through the same path.
	tw, _ := env.User(token).TestWebhookWithResponse(context.Background(), hook.Id)
	if tw.StatusCode() != http.StatusAccepted {
		t.Fatalf("test: %d %s", tw.StatusCode(), tw.Body)
	}
	waitFor(t, "the test delivery", func() bool { r := rcv.received(); return len(r) == 3 && r[2].Event == "webhook.test" })
	if l := deliveries(t, env, token, hook.Id); l.Total != 2 || l.Items[0].Event != "webhook.test" {
		t.Errorf("log, newest first: %+v", l.Items)
	}
}

// TestWebhookDeliveryRefusesPrivateAddressesAtConnectTime: an endpoint that passed the check at
// creation but now resolves to an internal address (DNS rebinding; here a row pointing at
// 127.0.0.1 written directly) is never contacted: the dialer's Control hook refuses it.
func TestWebhookDeliveryRefusesPrivateAddressesAtConnectTime(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) { c.WebhookPollInterval = 20 * time.Millisecond; c.WebhookRetryBase = time.Hour })
	admin, token := env.SeedUser(t, "admin")
	rcv := newReceiver(t)
	hookID := uuid.New()
	env.Store.DB().MustExec(`INSERT INTO webhooks (organization_id, id, url, secret) VALUES ($1, $2, $3, 's')`, admin.OrganizationID, hookID, rcv.srv.URL)
	raise(t, env, admin.OrganizationID, newAlert("rebound", "high"))
	waitFor(t, "the failed attempt", func() bool {
		d := deliveries(t, env, token, hookID)
		return len(d.Items) == 1 && d.Items[0].Attempts == 1 && d.Items[0].LastError != nil
	})
	d := deliveries(t, env, token, hookID).Items[0]
	if !strings.Contains(*d.LastError, "not allowed") || d.Status != "pending" || d.NextAttemptAt == nil || time.Until(*d.NextAttemptAt) < 30*time.Minute {
		t.Errorf("delivery: %+v (error %q)", d, *d.LastError)
	}
	if n := len(rcv.received()); n != 0 {
		t.Errorf("the private endpoint was contacted %d times", n)
	}
}

// TestWebhookDeliveryFailsAfterTheRetryWindow: a delivery older than the retry window that fails
// again is marked failed and not retried.
func TestWebhookDeliveryFailsAfterTheRetryWindow(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) {
		c.WebhookAllowPrivate = true
		c.WebhookPollInterval = 20 * time.Millisecond
	})
	admin, token := env.SeedUser(t, "admin")
	rcv := newReceiver(t, 503, 503, 503)
	hook := createWebhook(t, env, token, rcv.srv.URL)
	rcv.mu.Lock()
	rcv.secret = hook.Secret
	rcv.mu.Unlock()
	env.Store.DB().MustExec(`INSERT INTO webhook_deliveries (organization_id, id, webhook_id, event, payload, next_attempt_at, created_at)
		VALUES ($1, $2, $3, 'webhook.test', '{}', now(), now() - interval '25 hours')`, admin.OrganizationID, uuid.New(), hook.Id)
	waitFor(t, "the delivery to fail", func() bool {
		d := deliveries(t, env, token, hook.Id)
		return len(d.Items) == 1 && d.Items[0].Status == "failed"
	})
	d := deliveries(t, env, token, hook.Id).Items[0]
	if d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != 503 || d.NextAttemptAt != nil || d.DeliveredAt != nil {
		t.Errorf("failed delivery: %+v", d)
	}
}

// TestReportedCriticalServerReachesTheWebhook: end to end, an agent's report that raises an
// alert during ingestion produces a signed alert.created delivery carrying that alert.
func TestReportedCriticalServerReachesTheWebhook(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) { c.WebhookAllowPrivate = true; c.WebhookPollInterval = 20 * time.Millisecond })
	_, token := env.SeedUser(t, "admin")
	rcv := newReceiver(t)
	hook := createWebhook(t, env, token, rcv.srv.URL)
	rcv.mu.Lock()
	rcv.secret = hook.Secret
	rcv.mu.Unlock()
	_, key := enrol(t, env, token, "laptop")
	report(t, env, key, criticalFS("files"))
	waitFor(t, "the alert delivery", func() bool { return len(rcv.received()) > 0 })
	got := rcv.received()[0]
	var alert mcpwarden.Alert
	if err := json.Unmarshal(got.Data, &alert); err != nil || got.Event != "alert.created" || alert.ServerName == nil || *alert.ServerName != "files" {
		t.Errorf("delivery %+v: %v", got, err)
	}
	// The payload is the alert exactly as the API shows it.
	listed := listAlerts(t, env.User(token), mcpwarden.ListAlertsParams{})
	if len(listed.Items) != 1 {
		t.Fatalf("alerts: %+v", listed.Items)
	}
	want, _ := json.Marshal(listed.Items[0])
	have, _ := json.Marshal(alert)
	if string(have) != string(want) {
		t.Errorf("delivered alert %s, the API shows %s", have, want)
	}
}

// TestSlackWebhookReceivesSlackMessages: an endpoint created with format slack receives, for the
// test delivery and for a new alert, a Slack incoming-webhook message (text and blocks naming the
// alert's severity, title, message, server and agent), still signed.
func TestSlackWebhookReceivesSlackMessages(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) { c.WebhookAllowPrivate = true; c.WebhookPollInterval = 20 * time.Millisecond })
	_, token := env.SeedUser(t, "admin")
	var mu sync.Mutex
	var secret string
	var bodies []string
	var bad []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := notify.Verify(secret, req.Header.Get("X-Mcpwarden-Timestamp"), req.Header.Get("X-Mcpwarden-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			bad = append(bad, err.Error())
		}
		bodies = append(bodies, string(body))
	}))
	t.Cleanup(srv.Close)
	slack := mcpwarden.Slack
	resp, err := env.User(token).CreateWebhookWithResponse(context.Background(), mcpwarden.CreateWebhookJSONRequestBody{Url: srv.URL + "/services/T0/B0/x", Format: &slack})
	if err != nil || resp.JSON201 == nil || resp.JSON201.Format == nil || *resp.JSON201.Format != mcpwarden.Slack {
		t.Fatalf("create a slack webhook: %v %s", err, resp.Body)
	}
	mu.Lock()
	secret = resp.JSON201.Secret
	mu.Unlock()
	received := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), bodies...) }

	if tw, _ := env.User(token).TestWebhookWithResponse(context.Background(), resp.JSON201.Id); tw.StatusCode() != http.StatusAccepted {
		t.Fatalf("test: %d %s", tw.StatusCode(), tw.Body)
	}
	waitFor(t, "the test delivery", func() bool { return len(received()) == 1 })
	_, key := enrol(t, env, token, "laptop")
	report(t, env, key, criticalFS("files"))
	waitFor(t, "the alert delivery", func() bool { return len(received()) == 2 })

	type message struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
		} `json:"blocks"`
		Event *string `json:"event"`
	}
	for i, want := range [][]string{{"test delivery"}, {"CRITICAL", "files", "Severity", "Server", "Agent"}} {
		body := received()[i]
		var m message
		if err := json.Unmarshal([]byte(body), &m); err != nil || m.Text == "" || len(m.Blocks) == 0 || m.Event != nil {
			t.Errorf("delivery %d is not a Slack message: %v %s", i, err, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("delivery %d lacks %q: %s", i, w, body)
			}
		}
	}
	mu.Lock()
	if len(bad) > 0 {
		t.Errorf("signature checks failed: %v", bad)
	}
	mu.Unlock()
	list, _ := env.User(token).ListWebhooksWithResponse(context.Background())
	if list.JSON200 == nil || len(list.JSON200.Items) != 1 || list.JSON200.Items[0].Format == nil || *list.JSON200.Items[0].Format != mcpwarden.Slack {
		t.Errorf("list: %s, want the endpoint with format slack", list.Body)
	}
}
