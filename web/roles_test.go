package web

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/gen"
)

// apiCall is a call of the dashboard's client: api.POST("/alerts/dismiss-all", ...).
var apiCall = regexp.MustCompile(`\bapi\.(GET|POST|PUT|PATCH|DELETE)\(\s*"([^"]+)"`)

// TestTheDashboardShowsControlsByTheSpecsRoles pins src/roles.json, from which the dashboard
// decides which controls a role sees, to openapi.yaml's x-roles: every operation it lists allows
// exactly the roles the spec allows, and every operation the dashboard calls that some role may
// not call is listed, so no control of it is shown to a role that would be refused.
func TestTheDashboardShowsControlsByTheSpecsRoles(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	var allRoles []string
	for _, v := range spec.Components.Schemas["Role"].Value.Enum {
		allRoles = append(allRoles, v.(string))
	}
	rolesOf := func(op string) ([]string, bool) {
		method, path, _ := strings.Cut(op, " ")
		item := spec.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			return nil, false
		}
		var out []string
		if list, ok := item.GetOperation(method).Extensions["x-roles"].([]any); ok {
			for _, r := range list {
				out = append(out, r.(string))
			}
		}
		return out, true
	}

	raw, err := os.ReadFile("src/roles.json")
	if err != nil {
		t.Fatal(err)
	}
	var listed map[string][]string
	if err := json.Unmarshal(raw, &listed); err != nil {
		t.Fatal(err)
	}
	for op, roles := range listed {
		want, ok := rolesOf(op)
		if !ok {
			t.Errorf("src/roles.json lists %s, which openapi.yaml does not declare", op)
			continue
		}
		if !slices.Equal(slices.Sorted(slices.Values(roles)), slices.Sorted(slices.Values(want))) {
			t.Errorf("src/roles.json: %s allows %v; openapi.yaml's x-roles: %v", op, roles, want)
		}
	}

	calls := 0
	err = filepath.WalkDir("src", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".tsx") && !strings.HasSuffix(path, ".ts") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range apiCall.FindAllStringSubmatch(string(src), -1) {
			calls++
			op := m[1] + " " + m[2]
			roles, ok := rolesOf(op)
			if !ok {
				t.Errorf("%s calls %s, which openapi.yaml does not declare", path, op)
				continue
			}
			if len(roles) == 0 || len(roles) == len(allRoles) {
				continue // open to anyone, or to every role
			}
			if _, ok := listed[op]; !ok {
				t.Errorf("%s calls %s, which only %v may call, and src/roles.json does not list it", path, op, roles)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 20 {
		t.Fatalf("found only %d API calls in src: the pattern no longer matches the dashboard's calls", calls)
	}
}
