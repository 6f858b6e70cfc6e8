package impl_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
)

// TestEveryOperationAnswersEachCallerAsTheSpecDeclares walks every operation of openapi.yaml and
// calls it as an anonymous caller, an agent (its key), a viewer, a member and an admin (their
// access tokens), and API tokens of each scope. Whoever the operation's security, x-roles and
// x-scopes leave out gets 401 (wrong or missing credential) or 403 (a user without the role, a
// token without the scope); whoever they let in gets past authentication and the roles check, to
// validation or the handler. So a read token and a viewer are refused every write.
func TestEveryOperationAnswersEachCallerAsTheSpecDeclares(t *testing.T) {
	env := apitest.New(t)
	admin, adminToken := env.SeedUser(t, "admin")
	_, memberToken := env.SeedMember(t, admin.OrganizationID, "member")
	_, viewerToken := env.SeedMember(t, admin.OrganizationID, "viewer")
	_, agentKey := enrol(t, env, adminToken, "laptop")
	callers := []struct {
		name   string
		header [2]string
	}{
		{"anonymous", [2]string{}},
		{"agent", [2]string{"X-API-Key", agentKey}},
		{"viewer", [2]string{"Authorization", "Bearer " + viewerToken}},
		{"member", [2]string{"Authorization", "Bearer " + memberToken}},
		{"admin", [2]string{"Authorization", "Bearer " + adminToken}},
	}
	for _, scope := range []mcpwarden.ApiTokenScope{mcpwarden.ScopeRead, mcpwarden.ScopeWrite, mcpwarden.ScopeAdmin} {
		resp, err := env.User(adminToken).CreateApiTokenWithResponse(actx, mcpwarden.CreateApiTokenJSONRequestBody{Name: string(scope), Scopes: []mcpwarden.ApiTokenScope{scope}})
		if err != nil || resp.JSON201 == nil {
			t.Fatalf("create a %s token: %v %s", scope, err, resp.Body)
		}
		callers = append(callers, struct {
			name   string
			header [2]string
		}{"token:" + string(scope), [2]string{"Authorization", "Bearer " + resp.JSON201.Token}})
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	spec := apitest.Spec(t)
	paths := spec.Paths.InMatchingOrder()
	sort.Strings(paths)
	operations := 0
	for _, path := range paths {
		for method, op := range spec.Paths.Value(path).Operations() {
			operations++
			security := spec.Security
			if op.Security != nil {
				security = *op.Security
			}
			schemes := map[string]bool{}
			for _, req := range security {
				for name := range req {
					schemes[name] = true
				}
			}
			var roles, scopes []string
			if raw, ok := op.Extensions["x-roles"].([]any); ok {
				for _, r := range raw {
					roles = append(roles, r.(string))
				}
			}
			if raw, ok := op.Extensions["x-scopes"].([]any); ok {
				for _, r := range raw {
					scopes = append(scopes, r.(string))
				}
			}
			target := param.ReplaceAllStringFunc(path, func(string) string { return uuid.NewString() })
			for _, c := range callers {
				var want int // 0: past authentication and roles
				scope, token := strings.CutPrefix(c.name, "token:")
				bearer := token || c.name == "viewer" || c.name == "member" || c.name == "admin"
				switch {
				case len(schemes) == 0:
				case c.name == "agent" && !schemes["agentKey"], c.name == "anonymous", bearer && !schemes["bearerAuth"]:
					want = http.StatusUnauthorized
				case token && !slices.Contains(scopes, scope), !token && bearer && !slices.Contains(roles, c.name):
					want = http.StatusForbidden
				}
				req := httptest.NewRequest(method, target, strings.NewReader("{}"))
				req.Header.Set("Content-Type", "application/json")
				if c.header[0] != "" {
					req.Header.Set(c.header[0], c.header[1])
				}
				got := env.Do(req).StatusCode
				switch {
				case want != 0 && got != want:
					t.Errorf("%s %s as %s: %d, want %d", method, path, c.name, got, want)
				case want == 0 && (got == http.StatusUnauthorized || got == http.StatusForbidden):
					t.Errorf("%s %s as %s: %d, want it let through (security %v, x-roles %v, x-scopes %v)", method, path, c.name, got, security, roles, scopes)
				}
			}
		}
	}
	if operations < 30 {
		t.Fatalf("walked %d operations; the spec has more", operations)
	}
}
