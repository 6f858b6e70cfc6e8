// Package web embeds the dashboard's built files (dist/app, written by `npm run build`) so that
// `mcpwarden serve` serves them under /ui/. The folder holds a README when nothing is built, so
// that the server builds without Node.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// App returns the built dashboard (index.html at its root), or nil when it was not built.
func App() fs.FS {
	app, err := fs.Sub(dist, "dist/app")
	if err != nil {
		return nil
	}
	if _, err := fs.Stat(app, "index.html"); err != nil {
		return nil
	}
	return app
}
