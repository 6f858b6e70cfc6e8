package impl

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

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

// exportStream returns a reader fed by write in a goroutine, for a streamed export's response
// body: rows are written as the database yields them and only the pipe's and the buffer's bytes
// are held. When the client goes away the response stops copying and closes the reader, so
// write's next write fails and the goroutine ends (the request's context also ends the query).
func exportStream(write func(w io.Writer) error) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 32<<10)
		err := write(bw)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// csvCell keeps a spreadsheet from reading a cell as a formula: one starting with =, +, - or @
// is prefixed with '.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvRow writes cells through csvCell.
func csvRow(w *csv.Writer, cells ...string) error {
	for i, c := range cells {
		cells[i] = csvCell(c)
	}
	return w.Write(cells)
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func csvString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func csvUUID(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return id.String()
}
