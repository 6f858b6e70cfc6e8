package impl_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/redact"
)

// TestNoSampleOfAnySecretFormatIsStored reports, as an agent that redacted nothing would, one
// server for each secret format with its sample in every field and argument placement, through
// the real report endpoint; then no table of the database and no answer of the API may hold a
// secret.
func TestNoSampleOfAnySecretFormatIsStored(t *testing.T) {
	samples, missing := redact.FormatSamples()
	if len(missing) > 0 || len(samples) < 200 {
		t.Fatalf("%d samples, missing %v", len(samples), missing)
	}
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, key := enrol(t, env, token, "laptop")
	var servers []mcpwarden.ReportedServer
	for _, s := range samples {
		var args []string
		for _, p := range redact.SamplePlacements(s) {
			args = append(args, p.Args...)
		}
		command := strings.Join(args, " ")
		query := "q=1"
		if s.Standalone {
			query = "q=" + url.QueryEscape(s.Secret)
		} else if !strings.ContainsAny(s.Text, " \t\r\n&#?\"'") {
			query = s.Text
		}
		u := "https://user:" + url.PathEscape(s.Secret) + "@mcp.example.com/mcp?" + query
		env := []string{("VALUE=" + s.Text)[:min(256, len(s.Text)+6)]}
		scope := s.Text
		path := "/home/dev/" + s.Text + "/mcp.json"
		servers = append(servers, mcpwarden.ReportedServer{
			ServerName: "sample " + s.Rule, ServerType: &s.Text, Command: &command, Args: &args,
			Url: &u, EnvVars: &env, Scope: &scope, ConfigPath: &path,
		})
	}
	if r := report(t, env, key, servers...); r.ServersCreated != int64(len(servers)) {
		t.Fatalf("report: %+v", r)
	}

	var served strings.Builder
	list, _ := env.User(token).ListServersWithResponse(tctx, nil)
	served.Write(list.Body)
	for _, s := range list.JSON200.Items {
		detail, _ := env.User(token).GetServerWithResponse(tctx, s.Id)
		served.Write(detail.Body)
	}
	var tables []string
	if err := env.Store.DB().Select(&tables, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`); err != nil {
		t.Fatal(err)
	}
	var stored strings.Builder
	for _, table := range tables {
		var rows []string
		if err := env.Store.DB().Select(&rows, fmt.Sprintf(`SELECT t::text FROM %q t`, table)); err != nil {
			t.Fatal(err)
		}
		stored.WriteString(strings.Join(rows, "\n"))
	}
	if !strings.Contains(stored.String(), "sample generic-api-key") {
		t.Fatal("the dump does not hold the report")
	}
	leaks := 0
	for _, s := range samples {
		for _, form := range []string{s.Secret, url.QueryEscape(s.Secret), url.PathEscape(s.Secret)} {
			for where, text := range map[string]string{"stored": stored.String(), "served": served.String()} {
				if strings.Contains(text, form) {
					leaks++
					i := strings.Index(text, form)
					t.Errorf("%s: secret %q is %s: …%s…", s.Rule, form, where, text[max(0, i-150):min(len(text), i+60)])
				}
			}
		}
	}
	t.Logf("%d formats, each in %d fields and placements: %d leaks", len(samples), len(redact.SamplePlacements(samples[0]))+5, leaks)
}
