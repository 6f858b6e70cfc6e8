package impl_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
)

// invite creates a member through the API and returns the invitation.
func invite(t *testing.T, env *apitest.Env, adminAccess, email string, role *mcpwarden.Role) *mcpwarden.MemberInvitation {
	t.Helper()
	r, err := env.User(adminAccess).CreateMemberWithResponse(actx, mcpwarden.CreateMemberJSONRequestBody{Email: mcpwarden.Email(email), FullName: "New Member", Role: role})
	if err != nil || r.JSON201 == nil {
		t.Fatalf("create member: %v %d %s", err, r.StatusCode(), r.Body)
	}
	return r.JSON201
}

func accept(t *testing.T, env *apitest.Env, token, password string) *mcpwarden.AcceptInvitationResponse {
	t.Helper()
	r, err := env.Anonymous().AcceptInvitationWithResponse(actx, mcpwarden.AcceptInvitationJSONRequestBody{SetupToken: token, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// addMember invites a member, sets their password and logs them in.
func addMember(t *testing.T, env *apitest.Env, adminAccess string, role mcpwarden.Role) (id uuid.UUID, access, refresh string) {
	t.Helper()
	email := uniqueEmail("member")
	inv := invite(t, env, adminAccess, email, &role)
	if r := accept(t, env, inv.SetupToken, goodPassword); r.StatusCode() != http.StatusOK {
		t.Fatalf("accept: %d %s", r.StatusCode(), r.Body)
	}
	access, refresh = env.Login(t, email, goodPassword)
	return inv.User.Id, access, refresh
}

func TestMembersJoinWithAOneTimeSetupToken(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	adminAccess, _ := env.RegisterAndLogin(t, uniqueEmail("admin"), goodPassword, "Team Org")
	email := uniqueEmail("newbie")
	inv := invite(t, env, adminAccess, email, nil)
	if inv.User.Role != mcpwarden.Member || inv.User.IsActive || !strings.HasPrefix(inv.SetupToken, "mcp_st_") {
		t.Fatalf("invitation %+v", inv)
	}
	if d := time.Until(inv.SetupTokenExpiresAt); d < 71*time.Hour || d > 73*time.Hour {
		t.Fatalf("setup token expires in %v, want 72 hours", d)
	}
	if r := login(t, env, email, goodPassword); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("login before accepting: %d", r.StatusCode())
	}
	r := accept(t, env, inv.SetupToken, goodPassword)
	if r.StatusCode() != http.StatusOK || r.JSON200 == nil || !r.JSON200.IsActive || r.JSON200.Id != inv.User.Id {
		t.Fatalf("accept: %d %s", r.StatusCode(), r.Body)
	}
	if r := accept(t, env, inv.SetupToken, "another-fine-passphrase"); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("second use of the setup token: %d %s", r.StatusCode(), r.Body)
	}
	access, _ := env.Login(t, email, goodPassword)
	got := me(t, env, access).JSON200
	if got == nil || got.Role != mcpwarden.Member || got.OrganizationId != inv.User.OrganizationId {
		t.Fatalf("member: %+v", got)
	}
	var stored []byte
	env.Store.DB().Get(&stored, `SELECT setup_token_hash FROM users WHERE id = $1`, inv.User.Id)
	if stored != nil {
		t.Fatalf("the setup token hash outlived its use")
	}
}

func TestSetupTokensAreRefusedWhenInvalidOrExpired(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	adminAccess, adminRefresh := env.RegisterAndLogin(t, uniqueEmail("admin"), goodPassword, "Invite Org")
	inv := invite(t, env, adminAccess, "grace.hopper."+uuid.NewString()[:6]+"@example.com", nil)
	// The policy applies: the member's own email name is refused.
	local, _, _ := strings.Cut(string(inv.User.Email), "@")
	if r := accept(t, env, inv.SetupToken, "x-"+local+"-x"); r.StatusCode() != http.StatusBadRequest || !strings.Contains(string(r.Body), "before the @") {
		t.Fatalf("weak password: %d %s", r.StatusCode(), r.Body)
	}
	for name, token := range map[string]string{
		"garbage":         "nonsense",
		"a refresh token": adminRefresh,
		"an access token": adminAccess,
		"a forged token":  "mcp_st_" + strings.Repeat("A", 64),
	} {
		if r := accept(t, env, token, goodPassword); r.StatusCode() != http.StatusUnauthorized && r.StatusCode() != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, r.StatusCode(), r.Body)
		} else if name != "an access token" && r.StatusCode() != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, r.StatusCode())
		}
	}
	env.Store.DB().MustExec(`UPDATE users SET setup_token_expires_at = now() - interval '1 second' WHERE id = $1`, inv.User.Id)
	if r := accept(t, env, inv.SetupToken, goodPassword); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("expired setup token: %d %s", r.StatusCode(), r.Body)
	}
}

func TestAMemberGets403OnEveryAdminOperation(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	adminAccess, _ := env.RegisterAndLogin(t, uniqueEmail("admin"), goodPassword, "Roles Org")
	adminID := me(t, env, adminAccess).JSON200.Id
	_, memberAccess, _ := addMember(t, env, adminAccess, mcpwarden.Member)
	member := env.User(memberAccess)
	name := "Hijacked"
	admin := mcpwarden.Admin
	calls := map[string]func() (int, error){
		"PATCH /auth/organization": func() (int, error) {
			r, err := member.UpdateOrganizationWithResponse(actx, mcpwarden.UpdateOrganizationJSONRequestBody{Name: &name})
			return r.StatusCode(), err
		},
		"GET /auth/organization/members": func() (int, error) {
			r, err := member.ListMembersWithResponse(actx, nil)
			return r.StatusCode(), err
		},
		"POST /auth/organization/members": func() (int, error) {
			r, err := member.CreateMemberWithResponse(actx, mcpwarden.CreateMemberJSONRequestBody{Email: mcpwarden.Email(uniqueEmail("sock")), FullName: "Sock", Role: &admin})
			return r.StatusCode(), err
		},
		"PATCH /auth/organization/members/{id}": func() (int, error) {
			r, err := member.UpdateMemberWithResponse(actx, adminID, mcpwarden.UpdateMemberJSONRequestBody{Role: mcpwarden.Member})
			return r.StatusCode(), err
		},
		"DELETE /auth/organization/members/{id}": func() (int, error) {
			r, err := member.DeleteMemberWithResponse(actx, adminID)
			return r.StatusCode(), err
		},
	}
	for name, call := range calls {
		if status, err := call(); err != nil || status != http.StatusForbidden {
			t.Errorf("%s as a member: %v %d, want 403", name, err, status)
		}
	}
	// Nothing changed, and the member can still read what members may read.
	org, _ := member.GetOrganizationWithResponse(actx)
	if org.JSON200 == nil || org.JSON200.Name != "Roles Org" {
		t.Fatalf("organization: %s", org.Body)
	}
	if got := me(t, env, adminAccess).JSON200; got.Role != mcpwarden.Admin {
		t.Fatalf("admin demoted by a member: %+v", got)
	}
}

func TestTheLastAdminCanBeNeitherDemotedNorRemoved(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	adminAccess, _ := env.RegisterAndLogin(t, uniqueEmail("admin"), goodPassword, "Last Org")
	admin := env.User(adminAccess)
	adminID := me(t, env, adminAccess).JSON200.Id
	if r, _ := admin.UpdateMemberWithResponse(actx, adminID, mcpwarden.UpdateMemberJSONRequestBody{Role: mcpwarden.Member}); r.StatusCode() != http.StatusConflict {
		t.Fatalf("demoting the last admin: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := admin.DeleteMemberWithResponse(actx, adminID); r.StatusCode() != http.StatusConflict {
		t.Fatalf("removing the last admin: %d %s", r.StatusCode(), r.Body)
	}
	// With a second admin, the first may step down.
	otherID, otherAccess, _ := addMember(t, env, adminAccess, mcpwarden.Admin)
	if r, _ := admin.UpdateMemberWithResponse(actx, adminID, mcpwarden.UpdateMemberJSONRequestBody{Role: mcpwarden.Member}); r.StatusCode() != http.StatusOK || r.JSON200.Role != mcpwarden.Member {
		t.Fatalf("demoting one of two admins: %d %s", r.StatusCode(), r.Body)
	}
	// The demotion applies to the token already issued.
	if r, _ := admin.ListMembersWithResponse(actx, nil); r.StatusCode() != http.StatusForbidden {
		t.Fatalf("the demoted admin's existing token: %d", r.StatusCode())
	}
	if r, _ := env.User(otherAccess).DeleteMemberWithResponse(actx, otherID); r.StatusCode() != http.StatusConflict {
		t.Fatalf("the remaining admin removing themselves: %d %s", r.StatusCode(), r.Body)
	}
}

// TestConcurrentDemotionsKeepAnAdmin races two admins demoting (or removing) each other: the
// admin rows are locked, so exactly one change wins and one admin remains.
func TestConcurrentDemotionsKeepAnAdmin(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	firstAccess, _ := env.RegisterAndLogin(t, uniqueEmail("admin"), goodPassword, "Race Admins")
	firstID := me(t, env, firstAccess).JSON200.Id
	for round := range 4 {
		secondID, secondAccess, _ := addMember(t, env, firstAccess, mcpwarden.Admin)
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		wg.Go(func() {
			if round%2 == 0 {
				r, _ := env.User(firstAccess).UpdateMemberWithResponse(actx, firstID, mcpwarden.UpdateMemberJSONRequestBody{Role: mcpwarden.Member})
				statuses[0] = r.StatusCode()
			} else {
				r, _ := env.User(firstAccess).UpdateMemberWithResponse(actx, secondID, mcpwarden.UpdateMemberJSONRequestBody{Role: mcpwarden.Member})
				statuses[0] = r.StatusCode()
			}
		})
		wg.Go(func() {
			if round%2 == 0 {
				r, _ := env.User(secondAccess).DeleteMemberWithResponse(actx, secondID)
				statuses[1] = r.StatusCode()
			} else {
				r, _ := env.User(secondAccess).UpdateMemberWithResponse(actx, firstID, mcpwarden.UpdateMemberJSONRequestBody{Role: mcpwarden.Member})
				statuses[1] = r.StatusCode()
			}
		})
		wg.Wait()
		var admins int
		env.Store.DB().Get(&admins, `SELECT count(*) FROM users WHERE role = 'admin'`)
		conflicts := 0
		for _, s := range statuses {
			if s == http.StatusConflict {
				conflicts++
			}
		}
		// The loser either finds itself no longer an admin (403) or the winner gone (409).
		if admins != 1 || (conflicts != 1 && statuses[0] != http.StatusForbidden && statuses[1] != http.StatusForbidden) {
			t.Fatalf("round %d: %d admins left, statuses %v", round, admins, statuses)
		}
		// Restore the first admin for the next round when it was demoted.
		env.Store.DB().MustExec(`UPDATE users SET role = 'admin' WHERE id = $1`, firstID)
		env.Store.DB().MustExec(`DELETE FROM user_emails WHERE user_id = $1`, secondID)
		env.Store.DB().MustExec(`DELETE FROM users WHERE id = $1`, secondID)
	}
}

func TestRemovingAMemberRevokesTheirTokensAndFreesTheEmail(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	adminAccess, _ := env.RegisterAndLogin(t, uniqueEmail("admin"), goodPassword, "Removal Org")
	id, memberAccess, memberRefresh := addMember(t, env, adminAccess, mcpwarden.Member)
	email := me(t, env, memberAccess).JSON200.Email
	if r, _ := env.User(adminAccess).DeleteMemberWithResponse(actx, id); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.StatusCode(), r.Body)
	}
	if r := me(t, env, memberAccess); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("removed member's access token: %d", r.StatusCode())
	}
	if r := refresh(t, env, memberRefresh); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("removed member's refresh token: %d", r.StatusCode())
	}
	if r := login(t, env, string(email), goodPassword); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("removed member's login: %d", r.StatusCode())
	}
	if r, _ := env.User(adminAccess).DeleteMemberWithResponse(actx, id); r.StatusCode() != http.StatusNotFound {
		t.Fatalf("deleting again: %d", r.StatusCode())
	}
	if r := register(t, env, string(email), goodPassword, "Fresh Start"); r.StatusCode() != http.StatusCreated {
		t.Fatalf("the removed member's email is still taken: %d %s", r.StatusCode(), r.Body)
	}
}

func TestMembersOfAnotherOrganizationAreOutOfReach(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	aAccess, _ := env.RegisterAndLogin(t, uniqueEmail("a"), goodPassword, "Org A")
	bAccess, _ := env.RegisterAndLogin(t, uniqueEmail("b"), goodPassword, "Org B")
	bID := me(t, env, bAccess).JSON200.Id
	a := env.User(aAccess)
	if r, _ := a.UpdateMemberWithResponse(actx, bID, mcpwarden.UpdateMemberJSONRequestBody{Role: mcpwarden.Member}); r.StatusCode() != http.StatusNotFound {
		t.Fatalf("update across organizations: %d", r.StatusCode())
	}
	if r, _ := a.DeleteMemberWithResponse(actx, bID); r.StatusCode() != http.StatusNotFound {
		t.Fatalf("delete across organizations: %d", r.StatusCode())
	}
	list, _ := a.ListMembersWithResponse(actx, nil)
	if list.JSON200 == nil || list.JSON200.Total != 1 || list.JSON200.Items[0].Id == bID {
		t.Fatalf("list: %s", list.Body)
	}
	// A member email taken in another organization is a conflict, not a second account.
	bEmail := me(t, env, bAccess).JSON200.Email
	if r, _ := a.CreateMemberWithResponse(actx, mcpwarden.CreateMemberJSONRequestBody{Email: bEmail, FullName: "Dup"}); r.StatusCode() != http.StatusConflict {
		t.Fatalf("inviting another organization's user: %d", r.StatusCode())
	}
}

func TestListMembersPagesOldestFirst(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	adminAccess, _ := env.RegisterAndLogin(t, uniqueEmail("admin"), goodPassword, "Paging Org")
	for range 4 {
		invite(t, env, adminAccess, uniqueEmail("p"), nil)
	}
	page, size := int32(2), int32(2)
	r, _ := env.User(adminAccess).ListMembersWithResponse(actx, &mcpwarden.ListMembersParams{Page: &page, PageSize: &size})
	if r.JSON200 == nil || r.JSON200.Total != 5 || len(r.JSON200.Items) != 2 || r.JSON200.Page != 2 || r.JSON200.PageSize != 2 {
		t.Fatalf("page 2: %s", r.Body)
	}
	all, _ := env.User(adminAccess).ListMembersWithResponse(actx, nil)
	if all.JSON200 == nil || len(all.JSON200.Items) != 5 || all.JSON200.Items[0].Role != mcpwarden.Admin || all.JSON200.PageSize != 25 {
		t.Fatalf("first page: %s", all.Body)
	}
	if r.JSON200.Items[0].Id != all.JSON200.Items[2].Id {
		t.Fatalf("page 2 does not continue page 1")
	}
}
