package httpapi

import (
	"io"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// jsonBody validates a JSON request body as openapi3filter.ValidateRequestBody would (the
// same media type's schema, visited with the same options), but from the bytes the
// middleware already holds and decoded by jsondec: ValidateRequestBody reads its own copy of
// the body and decodes it with encoding/json, which cost more than the schema walk itself.
//
// It only ever accepts. ok is false when the body is not valid, or is not the plain case
// handled here (another media type, a default to fill in, JSON that jsondec leaves to
// encoding/json); kin-openapi then validates the body itself, and reports any error as it
// always does.
func (v *contract) jsonBody(req *http.Request, route *routers.Route, body []byte) (value any, ok bool) {
	if len(body) == 0 || route.Spec.IsOpenAPI31OrLater() {
		return nil, false
	}
	contentType := req.Header.Get("Content-Type")
	media := route.Operation.RequestBody.Value.Content.Get(contentType)
	if mt, _, _ := strings.Cut(contentType, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") ||
		media == nil || len(media.Encoding) != 0 || media.Schema == nil || media.Schema.Value == nil {
		return nil, false
	}
	schema := media.Schema.Value
	if schema.Type.Is(openapi3.TypeString) && schema.Format == "binary" || schema.ContentMediaType != "" {
		return nil, false // read as a file by kin-openapi, not decoded
	}
	if value, ok = v.json.Value(body); !ok {
		return nil, false
	}
	defaults := false
	if schema.VisitJSON(value, openapi3.VisitAsRequest(), openapi3.DefaultsSet(func() { defaults = true })) != nil || defaults {
		return nil, false // kin-openapi writes defaults back into the body
	}
	return value, true
}

// validatedBody is the request body with the value it was validated as, which the generated
// strict handlers bind instead of decoding the body again (as with kin-openapi's
// KeepValidatedValue).
type validatedBody struct {
	io.ReadCloser
	value any
}

func (b validatedBody) ValidatedValue() any { return b.value }

// requestBodyStrings returns the property names and enumerated strings of every request
// body's schema, which jsondec shares instead of allocating them for every body.
func requestBodyStrings(spec *openapi3.T) []string {
	var out []string
	seen := map[*openapi3.Schema]bool{}
	var walk func(ref *openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		for name, prop := range s.Properties {
			out = append(out, name)
			walk(prop)
		}
		for _, e := range s.Enum {
			if str, ok := e.(string); ok {
				out = append(out, str)
			}
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		walk(s.Not)
		for _, refs := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, r := range refs {
				walk(r)
			}
		}
	}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			for _, media := range op.RequestBody.Value.Content {
				walk(media.Schema)
			}
		}
	}
	return out
}
