// Package gen holds the code oapi-codegen generates from openapi.yaml: the models, the echo
// server, the strict server interface and the embedded spec. Nothing here is edited by hand.
package gen

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config server.cfg.yaml ../openapi.yaml
//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config client.cfg.yaml ../openapi.yaml
