package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
)

// reportBody is a 10-server report whose commands all carry rev, as the load generator's
// changed reports do.
func reportBody(rev int) []byte {
	templates := []struct{ name, typ, command, scope string }{
		{"filesystem", "@modelcontextprotocol/server-filesystem", "npx -y @modelcontextprotocol/server-filesystem /home/dev/projects", "/home/dev/projects"},
		{"github", "@modelcontextprotocol/server-github", "npx -y @modelcontextprotocol/server-github", ""},
		{"postgres", "@modelcontextprotocol/server-postgres", "npx -y @modelcontextprotocol/server-postgres postgresql://localhost/app", ""},
		{"git", "mcp-server-git", "uvx mcp-server-git --repository /home/dev/projects/app", "/home/dev/projects/app"},
		{"fetch", "mcp-server-fetch", "uvx mcp-server-fetch", ""},
		{"memory", "@modelcontextprotocol/server-memory", "npx -y @modelcontextprotocol/server-memory", ""},
		{"puppeteer", "@modelcontextprotocol/server-puppeteer", "npx -y @modelcontextprotocol/server-puppeteer", ""},
		{"slack", "@modelcontextprotocol/server-slack", "npx -y @modelcontextprotocol/server-slack", ""},
		{"sqlite", "mcp-server-sqlite", "uvx mcp-server-sqlite --db-path /home/dev/data.db", "/home/dev/data.db"},
		{"docs-remote", "mcp.example.com", "https://mcp.example.com/mcp", ""},
	}
	var b strings.Builder
	b.WriteString(`{"servers":[`)
	for i, t := range templates {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"server_name":%q,"server_type":%q,"command":"%s --profile abc-12-%d","client":"claude-desktop","config_path":"/home/dev/.config/Claude/claude_desktop_config.json","transport":"stdio","enabled":true,"env_vars":["GITHUB_PERSONAL_ACCESS_TOKEN"]`, t.name, t.typ, t.command, rev)
		if t.scope != "" {
			fmt.Fprintf(&b, `,"scope":%q`, t.scope)
		}
		b.WriteString("}")
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// openContract is the validation middleware's contract with an authentication that accepts
// anyone: it is not what these tests are about.
func openContract(t testing.TB) *contract {
	t.Helper()
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	v, err := newContract(spec, func(context.Context, *openapi3filter.AuthenticationInput) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// contractEcho is the validation middleware in front of a handler that records the raw body
// hash it is given. Authentication accepts anyone: it is not what these tests are about.
func contractEcho(t testing.TB, enabled bool, got *[]byte) (*echo.Echo, *contract) {
	v := openContract(t)
	return reportEcho(v.middleware(enabled), got), v
}

// reportEcho is validation in front of a handler that records the raw body hash it is given
// and answers with the body it reads.
func reportEcho(validate echo.MiddlewareFunc, got *[]byte) *echo.Echo {
	e := echo.New()
	e.Pre(validate)
	e.POST("/mcp/report", func(c echo.Context) error {
		*got = RawBodyHash(c.Request().Context())
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "application/json", body)
	})
	return e
}

func TestRawBodyHashIsTheHashOfTheBodyAsReceived(t *testing.T) {
	var got []byte
	e, _ := contractEcho(t, true, &got)
	for name, body := range map[string][]byte{
		"report":                   reportBody(1),
		"tiny report":              []byte(`{"servers":[]}`),
		"report with odd spacing":  []byte("{ \"servers\" : [ {\"server_name\":\"x\"} ]\n}"),
		"report of unknown length": reportBody(2),
	} {
		t.Run(name, func(t *testing.T) {
			got = nil
			req := httptest.NewRequest(http.MethodPost, "/mcp/report", bytes.NewReader(body))
			if name == "report of unknown length" {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			want := sha256.Sum256(append([]byte("raw-report/v1\x00"), body...))
			if !bytes.Equal(got, want[:]) {
				t.Errorf("rawBodyHash = %x, want %x", got, want)
			}
			if !bytes.Equal(rec.Body.Bytes(), body) {
				t.Errorf("the handler read %q, want the body as sent", rec.Body)
			}
		})
	}
}

func TestRawBodyHashIsNilWithValidationOff(t *testing.T) {
	got := []byte("unset")
	e, _ := contractEcho(t, false, &got)
	req := httptest.NewRequest(http.MethodPost, "/mcp/report", bytes.NewReader(reportBody(1)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || got != nil {
		t.Errorf("status %d, rawBodyHash = %x; want 200 and nil", rec.Code, got)
	}
}

// BenchmarkContractChangedReport is the validation middleware's cost for a report it has not
// seen before (a changed report): the body memo is emptied before every request.
func BenchmarkContractChangedReport(b *testing.B) {
	var got []byte
	e, v := contractEcho(b, true, &got)
	body := reportBody(1)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		v.bodies.mu.Lock()
		clear(v.bodies.seen)
		v.bodies.mu.Unlock()
		req := httptest.NewRequest(http.MethodPost, "/mcp/report", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
