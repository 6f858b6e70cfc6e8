package impl_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
)

// TestAPITokensWorkUntilRevokedExpiredOrTheirAdminIsDemoted: a token is accepted as a bearer
// token within its scopes, shown once, listed by its hint with its last use, and refused once
// revoked, expired, mistyped, or once the admin who created it is no longer an admin.
func TestAPITokensWorkUntilRevokedExpiredOrTheirAdminIsDemoted(t *testing.T) {
	env := apitest.New(t)
	admin, adminToken := env.SeedUser(t, "admin")
	create := func(access, name string, scopes ...mcpwarden.ApiTokenScope) *mcpwarden.ApiTokenWithToken {
		t.Helper()
		resp, err := env.User(access).CreateApiTokenWithResponse(actx, mcpwarden.CreateApiTokenJSONRequestBody{Name: name, Scopes: scopes})
		if err != nil || resp.JSON201 == nil {
			t.Fatalf("create token %s: %v %d %s", name, err, resp.StatusCode(), resp.Body)
		}
		return resp.JSON201
	}
	stats := func(token string) int {
		resp, err := env.User(token).GetDashboardStatsWithResponse(actx)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode()
	}
	read := create(adminToken, "siem", mcpwarden.ScopeRead)
	if !strings.HasPrefix(read.Token, "mcp_at_") || !strings.HasSuffix(read.TokenPrefix, read.Token[len(read.Token)-4:]) {
		t.Fatalf("token %q, hint %q", read.Token, read.TokenPrefix)
	}
	if code := stats(read.Token); code != http.StatusOK {
		t.Fatalf("a read token reading: %d", code)
	}
	if resp, _ := env.User(read.Token).CreateAgentWithResponse(actx, mcpwarden.CreateAgentJSONRequestBody{Name: "x"}); resp.StatusCode() != http.StatusForbidden || !strings.Contains(string(resp.Body), "write scope") {
		t.Errorf("a read token enrolling an agent: %d %s, want 403 naming the write scope", resp.StatusCode(), resp.Body)
	}
	if resp, _ := env.User(read.Token).CreateApiTokenWithResponse(actx, mcpwarden.CreateApiTokenJSONRequestBody{Name: "y", Scopes: []mcpwarden.ApiTokenScope{mcpwarden.ScopeAdmin}}); resp.StatusCode() != http.StatusForbidden {
		t.Errorf("a token creating a token: %d, want 403", resp.StatusCode())
	}
	mistyped := read.Token[:len(read.Token)-1] + map[bool]string{true: "0", false: "1"}[read.Token[len(read.Token)-1] != '0']
	if code := stats(mistyped); code != http.StatusUnauthorized {
		t.Errorf("a token with a wrong checksum: %d, want 401", code)
	}

	list, err := env.User(adminToken).ListApiTokensWithResponse(actx, nil)
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 1 || list.JSON200.Items[0].LastUsedAt == nil || strings.Contains(string(list.Body), read.Token) {
		t.Fatalf("list: %v %s, want the token with its last use and without its value", err, list.Body)
	}

	if resp, _ := env.User(adminToken).RevokeApiTokenWithResponse(actx, read.Id); resp.StatusCode() != http.StatusNoContent {
		t.Fatalf("revoke: %d", resp.StatusCode())
	}
	if code := stats(read.Token); code != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", code)
	}

	expiring := create(adminToken, "soon", mcpwarden.ScopeRead)
	env.Store.DB().MustExec(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, expiring.Id)
	if code := stats(expiring.Token); code != http.StatusUnauthorized {
		t.Errorf("an expired token: %d, want 401", code)
	}
	past := time.Now().Add(-time.Minute)
	if resp, _ := env.User(adminToken).CreateApiTokenWithResponse(actx, mcpwarden.CreateApiTokenJSONRequestBody{Name: "z", Scopes: []mcpwarden.ApiTokenScope{mcpwarden.ScopeRead}, ExpiresAt: &past}); resp.StatusCode() != http.StatusBadRequest {
		t.Errorf("a token expiring in the past: %d, want 400", resp.StatusCode())
	}

	// A token acts for its admin: demoted, the admin's tokens stop working.
	other, otherToken := env.SeedMember(t, admin.OrganizationID, "admin")
	theirs := create(otherToken, "theirs", mcpwarden.ScopeRead)
	if code := stats(theirs.Token); code != http.StatusOK {
		t.Fatalf("the other admin's token: %d", code)
	}
	member := mcpwarden.Member
	if resp, _ := env.User(adminToken).UpdateMemberWithResponse(actx, other.ID, mcpwarden.UpdateMemberJSONRequestBody{Role: member}); resp.StatusCode() != http.StatusOK {
		t.Fatalf("demote: %d %s", resp.StatusCode(), resp.Body)
	}
	if code := stats(theirs.Token); code != http.StatusUnauthorized {
		t.Errorf("the token of an admin made member: %d, want 401", code)
	}
}

// TestAViewerReadsEverythingAndChangesOnlyTheirOwnAccount: a viewer sees the inventory, is
// refused changes (the walk over every operation checks them all), and changes their password.
func TestAViewerReadsEverythingAndChangesOnlyTheirOwnAccount(t *testing.T) {
	env := apitest.New(t)
	_, adminAccess := env.SeedUser(t, "admin")
	viewer := mcpwarden.Role("viewer")
	email := uniqueEmail("viewer")
	inv := invite(t, env, adminAccess, email, &viewer)
	if r := accept(t, env, inv.SetupToken, goodPassword); r.StatusCode() != http.StatusOK {
		t.Fatalf("accept: %d %s", r.StatusCode(), r.Body)
	}
	access, _ := env.Login(t, email, goodPassword)
	if resp, _ := env.User(access).ListServersWithResponse(actx, nil); resp.StatusCode() != http.StatusOK {
		t.Errorf("a viewer listing servers: %d", resp.StatusCode())
	}
	if resp, _ := env.User(access).DismissAllAlertsWithResponse(actx, nil); resp.StatusCode() != http.StatusForbidden {
		t.Errorf("a viewer dismissing alerts: %d, want 403", resp.StatusCode())
	}
	if resp, _ := env.User(access).ChangePasswordWithResponse(actx, mcpwarden.ChangePasswordJSONRequestBody{CurrentPassword: goodPassword, NewPassword: "another-long-passphrase-77"}); resp.StatusCode() != http.StatusNoContent {
		t.Errorf("a viewer changing their password: %d %s", resp.StatusCode(), resp.Body)
	}
}
