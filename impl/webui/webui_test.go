package webui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestDashboardFilesAreServedUnderUI(t *testing.T) {
	app := fstest.MapFS{
		"index.html":             {Data: []byte(`<!doctype html><script type="module" src="/ui/assets/index-abc123.js"></script>`)},
		"assets/index-abc123.js": {Data: []byte(`console.log("app")`)},
		"favicon.svg":            {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"api":"`+r.Method+" "+r.URL.Path+`"}`)
	})
	h := Handler(app, api)
	cases := []struct {
		name, method, path string
		status             int
		body, cache, loc   string
	}{
		{"the app's entry", "GET", "/ui/", 200, "/ui/assets/index-abc123.js", "no-cache", ""},
		{"a hashed asset is immutable", "GET", "/ui/assets/index-abc123.js", 200, `console.log("app")`, "public, max-age=31536000, immutable", ""},
		{"an unhashed file is revalidated", "GET", "/ui/favicon.svg", 200, "<svg", "no-cache", ""},
		{"a client-side route falls back to the app", "GET", "/ui/servers/6c1f?risk_level=critical", 200, "/ui/assets/index-abc123.js", "no-cache", ""},
		{"a missing asset is not the app", "GET", "/ui/assets/gone-0000.js", 404, "not found", "no-cache", ""},
		{"index.html itself is the app", "GET", "/ui/index.html", 200, "/ui/assets/index-abc123.js", "no-cache", ""},
		{"a browser at the root goes to the dashboard", "GET", "/", 302, "", "", "/ui/"},
		{"/ui without its slash too", "GET", "/ui", 302, "", "", "/ui/"},
		{"the dashboard only reads", "POST", "/ui/", 405, "method not allowed", "", ""},
		{"API paths are the API's", "GET", "/mcp/servers", 200, `{"api":"GET /mcp/servers"}`, "", ""},
		{"other methods on the root are the API's", "POST", "/", 200, `{"api":"POST /"}`, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
			if w.Code != c.status || !strings.Contains(w.Body.String(), c.body) {
				t.Fatalf("%s %s: %d %q, want %d containing %q", c.method, c.path, w.Code, w.Body, c.status, c.body)
			}
			if got := w.Header().Get("Cache-Control"); got != c.cache {
				t.Errorf("Cache-Control %q, want %q", got, c.cache)
			}
			if got := w.Header().Get("Location"); got != c.loc {
				t.Errorf("Location %q, want %q", got, c.loc)
			}
			csp := w.Header().Get("Content-Security-Policy")
			if strings.HasPrefix(c.path, "/ui/") && (!strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline")) {
				t.Errorf("Content-Security-Policy %q", csp)
			}
		})
	}
}

func TestWithoutABuiltDashboardUISaysHowToBuildIt(t *testing.T) {
	api := http.NotFoundHandler()
	for _, p := range []string{"/ui/", "/ui/servers", "/ui/assets/index-abc123.js"} {
		w := httptest.NewRecorder()
		Handler(nil, api).ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != 200 || !strings.Contains(w.Body.String(), "make run") || w.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %d %q", p, w.Code, w.Body)
		}
	}
}
