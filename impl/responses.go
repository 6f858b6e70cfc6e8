package impl

import (
	"context"
	"net/http"

	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/security"
)

// The problem documents several handlers answer with.

func badRequest(ctx context.Context, errs []gen.FieldError) gen.BadRequestApplicationProblemPlusJSONResponse {
	return gen.BadRequestApplicationProblemPlusJSONResponse(httpapi.FieldsProblem(ctx, errs))
}

func notFound(ctx context.Context) gen.NotFoundApplicationProblemPlusJSONResponse {
	return gen.NotFoundApplicationProblemPlusJSONResponse(httpapi.NewProblem(ctx, http.StatusNotFound, "Not found."))
}

func unauthorized(ctx context.Context, detail string) gen.UnauthorizedApplicationProblemPlusJSONResponse {
	return gen.UnauthorizedApplicationProblemPlusJSONResponse(httpapi.NewProblem(ctx, http.StatusUnauthorized, detail))
}

// pageOf applies the spec's paging defaults to every list: page 1, 25 per page, at most 100.
func pageOf(page, size *int32) (int32, int32) {
	p, n := int32(1), int32(25)
	if page != nil && *page >= 1 {
		p = *page
	}
	if size != nil && *size >= 1 {
		n = min(*size, 100)
	}
	return p, n
}

// passwordProblems are the password policy's refusals of password, as errors of field.
func passwordProblems(field, password, email, orgName string) []gen.FieldError {
	var out []gen.FieldError
	for _, msg := range security.PasswordProblems(password, email, orgName) {
		out = append(out, gen.FieldError{Field: field, Message: msg})
	}
	return out
}
