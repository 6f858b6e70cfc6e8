package main

import (
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/impl/config"
)

// TestConfigRefusesAShortJWTSecret: with a real database the server does not start on a JWT
// secret an attacker could brute-force offline.
func TestConfigRefusesAShortJWTSecret(t *testing.T) {
	cases := []struct {
		name, databaseURL, secret string
		wantErr                   bool
	}{
		{"database and no secret", "postgres://db/mcpwarden", "", true},
		{"database and a 31-byte secret", "postgres://db/mcpwarden", strings.Repeat("s", 31), true},
		{"database and a 32-byte secret", "postgres://db/mcpwarden", strings.Repeat("s", 32), false},
		{"database and a 64-byte secret", "postgres://db/mcpwarden", strings.Repeat("s", 64), false},
		{"built-in database and a 31-byte secret", "", strings.Repeat("s", 31), true},
		// Without DATABASE_URL the built-in PostgreSQL is used and serve makes its own secret.
		{"built-in database and no secret", "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("DATABASE_URL", c.databaseURL)
			t.Setenv("MCPWARDEN_JWT_SECRET", c.secret)
			_, err := config.Load()
			if (err != nil) != c.wantErr {
				t.Fatalf("config.Load() error = %v, want error: %v", err, c.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "MCPWARDEN_JWT_SECRET") {
				t.Fatalf("the error does not name the setting: %v", err)
			}
		})
	}
}

// TestServeAndMigrateRefuseArguments: a mistyped flag is refused, not ignored; nothing starts.
func TestServeAndMigrateRefuseArguments(t *testing.T) {
	for name, run := range map[string]func([]string) int{"serve": runServe, "migrate": runMigrate} {
		for _, args := range [][]string{{"--addr=:9000"}, {"now"}} {
			if code := run(args); code != 2 {
				t.Errorf("%s %q: exit %d, want 2", name, args, code)
			}
		}
	}
}
