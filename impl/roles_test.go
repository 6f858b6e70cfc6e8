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

	"github.com/mcpwarden/mcpwarden/impl/apitest"
)

// TestEveryOperationAnswersEachCallerAsTheSpecDeclares walks every operation of openapi.yaml and
// calls it as an anonymous caller, an agent (its key), a member and an admin (their access
// tokens). Whoever the operation's security and x-roles leave out gets 401 (wrong or missing
// credential) or 403 (a user without the role); whoever they let in gets past authentication
// and the roles check, to validation or the handler.
func TestEveryOperationAnswersEachCallerAsTheSpecDeclares(t *testing.T) {
	env := apitest.New(t)
	admin, adminToken := env.SeedUser(t, "admin")
	_, memberToken := env.SeedMember(t, admin.OrganizationID, "member")
	_, agentKey := enrol(t, env, adminToken, "laptop")
	callers := []struct {
		name   string
		header [2]string
	}{
		{"anonymous", [2]string{}},
		{"agent", [2]string{"X-API-Key", agentKey}},
		{"member", [2]string{"Authorization", "Bearer " + memberToken}},
		{"admin", [2]string{"Authorization", "Bearer " + adminToken}},
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
			var roles []string
			if raw, ok := op.Extensions["x-roles"].([]any); ok {
				for _, r := range raw {
					roles = append(roles, r.(string))
				}
			}
			target := param.ReplaceAllStringFunc(path, func(string) string { return uuid.NewString() })
			for _, c := range callers {
				var want int // 0: past authentication and roles
				switch {
				case len(schemes) == 0:
				case c.name == "agent" && !schemes["agentKey"], c.name == "anonymous",
					(c.name == "member" || c.name == "admin") && !schemes["bearerAuth"]:
					want = http.StatusUnauthorized
				case (c.name == "member" || c.name == "admin") && !slices.Contains(roles, c.name):
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
					t.Errorf("%s %s as %s: %d, want it let through (security %v, x-roles %v)", method, path, c.name, got, security, roles)
				}
			}
		}
	}
	if operations < 30 {
		t.Fatalf("walked %d operations; the spec has more", operations)
	}
}
