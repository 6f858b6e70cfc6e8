//go:build tools

// Package tools pins the versions of the tools the build runs (the code generator, the static
// checks), so that `go run` uses the version in go.mod.
package tools

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
	_ "golang.org/x/tools/cmd/deadcode"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
