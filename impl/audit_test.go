package impl_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

// auditLog reads the whole audit log through the API, following the cursor, newest first.
func auditLog(t *testing.T, env *apitest.Env, access string, params mcpwarden.ListAuditEventsParams) []mcpwarden.AuditEvent {
	t.Helper()
	var all []mcpwarden.AuditEvent
	for {
		resp, err := env.User(access).ListAuditEventsWithResponse(actx, &params)
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("audit events: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
		all = append(all, resp.JSON200.Items...)
		if resp.JSON200.NextCursor == nil {
			return all
		}
		params.Cursor = resp.JSON200.NextCursor
	}
}

// TestEverySecurityRelevantChangeIsAudited walks every audited action through the real router
// and reads the log back: each action is there with its actor, address and target; reasons are
// recorded; no secret is; the cursor pages without repeating; filters narrow.
func TestEverySecurityRelevantChangeIsAudited(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) { c.WebhookAllowPrivate = true; c.AgentOfflineAfter = 0 })
	ctx := actx
	email := uniqueEmail("auditor")
	if r := register(t, env, email, goodPassword, "Audited Org"); r.JSON201 == nil {
		t.Fatalf("register: %d", r.StatusCode())
	}
	if resp := loginFrom(env, "198.51.100.4:4000", "", email, "wrong-password-guess"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("failed login: %d", resp.StatusCode)
	}
	admin, _ := env.Login(t, email, goodPassword)
	c := env.User(admin)
	secrets := []string{goodPassword}

	name, newEmail := "Audrey", mcpwarden.Email(uniqueEmail("audrey"))
	c.UpdateCurrentUserWithResponse(ctx, mcpwarden.UpdateCurrentUserJSONRequestBody{FullName: &name, Email: &newEmail})
	const newPassword = "another-long-passphrase-91"
	secrets = append(secrets, newPassword)
	if r, _ := c.ChangePasswordWithResponse(ctx, mcpwarden.ChangePasswordJSONRequestBody{CurrentPassword: goodPassword, NewPassword: newPassword}); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("change password: %d", r.StatusCode())
	}
	admin, _ = env.Login(t, string(newEmail), newPassword)
	c = env.User(admin)
	orgName := "Audited Org 2"
	c.UpdateOrganizationWithResponse(ctx, mcpwarden.UpdateOrganizationJSONRequestBody{Name: &orgName})

	memberEmail := uniqueEmail("m")
	inv := invite(t, env, admin, memberEmail, nil)
	secrets = append(secrets, inv.SetupToken)
	accept(t, env, inv.SetupToken, goodPassword)
	viewer := mcpwarden.Role("viewer")
	c.UpdateMemberWithResponse(ctx, inv.User.Id, mcpwarden.UpdateMemberJSONRequestBody{Role: viewer})
	c.DeleteMemberWithResponse(ctx, inv.User.Id)

	agentID, key := enrol(t, env, admin, "laptop")
	secrets = append(secrets, key)
	rot, _ := c.RotateAgentKeyWithResponse(ctx, agentID)
	key = rot.JSON200.ApiKey
	secrets = append(secrets, key)
	report(t, env, key, criticalFS("fs"))
	servers, _ := c.ListServersWithResponse(ctx, nil)
	serverID := servers.JSON200.Items[0].Id
	why := "reviewed with the owner"
	c.UpdateServerWithResponse(ctx, serverID, mcpwarden.UpdateServerJSONRequestBody{IsVerified: true, Reason: &why})
	c.UpdateServerWithResponse(ctx, serverID, mcpwarden.UpdateServerJSONRequestBody{IsVerified: false})
	alerts, _ := c.ListAlertsWithResponse(ctx, nil)
	if len(alerts.JSON200.Items) == 0 {
		t.Fatal("the critical server raised no alert")
	}
	c.UpdateAlertWithResponse(ctx, alerts.JSON200.Items[0].Id, mcpwarden.UpdateAlertJSONRequestBody{Dismissed: true, Reason: &why})
	c.DismissAllAlertsWithResponse(ctx, &mcpwarden.DismissAllAlertsParams{Reason: &why})
	c.DeleteAgentWithResponse(ctx, agentID)

	secretID, enrolSecret := newSecret(t, env, admin, "fleet")
	secrets = append(secrets, enrolSecret)
	enrolled := enrollAs(t, env, enrolSecret, machine("a"), "a.local")
	secrets = append(secrets, enrolled.JSON201.ApiKey)
	rotated, _ := c.RotateEnrollmentSecretWithResponse(ctx, secretID)
	secrets = append(secrets, rotated.JSON200.Secret)
	c.RevokeEnrollmentSecretWithResponse(ctx, secretID)

	tok, _ := c.CreateApiTokenWithResponse(ctx, mcpwarden.CreateApiTokenJSONRequestBody{Name: "siem", Scopes: []mcpwarden.ApiTokenScope{mcpwarden.ScopeWrite}})
	secrets = append(secrets, tok.JSON201.Token)
	// A change made with the token is recorded as the token's, acting for its admin.
	if r, _ := env.User(tok.JSON201.Token).DismissAllAlertsWithResponse(ctx, nil); r.StatusCode() != http.StatusOK {
		t.Fatalf("dismiss with a token: %d", r.StatusCode())
	}
	c.RevokeApiTokenWithResponse(ctx, tok.JSON201.Id)

	hook := createWebhook(t, env, admin, "http://127.0.0.1:1/hook")
	secrets = append(secrets, hook.Secret)
	c.DeleteWebhookWithResponse(ctx, hook.Id)

	events := auditLog(t, env, admin, mcpwarden.ListAuditEventsParams{Limit: ptr(int32(3))})
	seen := map[string]int{}
	ids := map[uuid.UUID]bool{}
	for _, e := range events {
		seen[e.Action]++
		if ids[e.Id] {
			t.Errorf("event %s listed twice across pages", e.Id)
		}
		ids[e.Id] = true
		b, _ := json.Marshal(e)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("event %s holds a secret: %s", e.Action, b)
			}
		}
	}
	want := []string{
		"organization.registered", "user.sign_in_failed", "user.signed_in", "user.profile_changed", "user.password_changed",
		"organization.updated", "member.invited", "member.invitation_accepted", "member.role_changed", "member.removed",
		"agent.created", "agent.key_rotated", "agent.deleted", "agent.enrolled", "server.verified", "server.unverified",
		"alert.dismissed", "alert.dismissed_all", "enrollment_secret.created", "enrollment_secret.rotated",
		"enrollment_secret.revoked", "api_token.created", "api_token.revoked", "webhook.created", "webhook.deleted",
	}
	var missing []string
	for _, a := range want {
		if seen[a] == 0 {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		got := make([]string, 0, len(seen))
		for a := range seen {
			got = append(got, a)
		}
		sort.Strings(got)
		t.Fatalf("actions never recorded: %v (recorded: %v)", missing, got)
	}
	for _, e := range events {
		switch e.Action {
		case "server.verified", "alert.dismissed":
			if e.Summary["reason"] != why {
				t.Errorf("%s: summary %v, want the reason", e.Action, e.Summary)
			}
		case "member.role_changed":
			if e.Summary["before"] != "member" || e.Summary["after"] != "viewer" || e.ActorType != mcpwarden.AuditEventActorTypeUser || e.ActorId == nil {
				t.Errorf("role change: %+v", e)
			}
		case "user.sign_in_failed":
			if e.SourceIp == nil || *e.SourceIp != "198.51.100.4" {
				t.Errorf("failed sign-in from %v, want 198.51.100.4", e.SourceIp)
			}
		}
	}
	// The change made with the token: actor token, acting for the admin.
	byToken := auditLog(t, env, admin, mcpwarden.ListAuditEventsParams{ActorId: &tok.JSON201.Id})
	if len(byToken) != 1 || byToken[0].ActorType != mcpwarden.AuditEventActorTypeToken || byToken[0].ActorUserId == nil {
		t.Errorf("events by the token: %+v, want its one dismissal, for its admin", byToken)
	}
	action := "member.role_changed"
	if only := auditLog(t, env, admin, mcpwarden.ListAuditEventsParams{Action: &action}); len(only) != 1 {
		t.Errorf("filtered by action: %d events, want 1", len(only))
	}
	bad := "not-a-cursor!"
	if r, _ := c.ListAuditEventsWithResponse(ctx, &mcpwarden.ListAuditEventsParams{Cursor: &bad}); r.StatusCode() != http.StatusBadRequest {
		t.Errorf("a bad cursor: %d, want 400", r.StatusCode())
	}
	if !slices.IsSortedFunc(events, func(a, b mcpwarden.AuditEvent) int { return b.At.Compare(a.At) }) {
		t.Error("events are not newest first")
	}
}
