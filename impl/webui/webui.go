// Package webui serves the dashboard's files under /ui/ in front of the API: hashed assets are
// cached for good, index.html never, client-side routes fall back to index.html, and every answer
// carries a Content-Security-Policy that allows only the server's own scripts and styles.
package webui

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is where the dashboard lives; every other path is the API's.
const Prefix = "/ui/"

// ContentSecurityPolicy allows nothing but the server's own files, and no inline script or
// style: the dashboard's JavaScript and CSS are files under /ui/assets/.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed notbuilt.html
var notBuilt []byte

// Handler serves app (the built dashboard, index.html at its root; nil when it was not built)
// under Prefix, redirects a browser's GET / there, and passes every other request to api.
func Handler(app fs.FS, api http.Handler) http.Handler {
	ui := &files{app: app}
	if app != nil {
		ui.index, _ = fs.ReadFile(app, "index.html")
	}
	if ui.index == nil {
		ui.app, ui.index = nil, notBuilt
	}
	sum := sha256.Sum256(ui.index)
	ui.indexETag = `"` + hex.EncodeToString(sum[:8]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, Prefix):
			ui.serve(w, r)
		case r.URL.Path == "/ui" || r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, Prefix, http.StatusFound)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

type files struct {
	app       fs.FS
	index     []byte
	indexETag string
}

func (f *files) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/ui")
	name = strings.TrimPrefix(name, "/")
	if f.app != nil && name != "" && name != "index.html" {
		if b, err := fs.ReadFile(f.app, name); err == nil {
			if strings.HasPrefix(name, "assets/") {
				// Vite names every asset by its content's hash: a new build is a new name.
				h.Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				h.Set("Cache-Control", "no-cache")
			}
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
			return
		}
		// A missing file is a 404; any other path is one of the app's own routes.
		if path.Ext(name) != "" {
			h.Set("Cache-Control", "no-cache")
			http.NotFound(w, r)
			return
		}
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.indexETag)
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(f.index))
}
