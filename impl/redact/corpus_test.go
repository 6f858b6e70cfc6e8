package redact

import (
	"net/url"
	"strings"
	"testing"
)

// TestEveryRuleHasARedactedSample generates a sample of every secret format and puts it, or its
// secret, in each place a command line or URL can carry it; no secret may survive Command or
// Args.
func TestEveryRuleHasARedactedSample(t *testing.T) {
	samples, missing := FormatSamples()
	for _, id := range missing {
		t.Errorf("no sample could be generated for %s", id)
	}
	if len(samples) < 200 {
		t.Fatalf("%d samples, want one for each of some 220 formats", len(samples))
	}
	leaks, checked := 0, 0
	for _, s := range samples {
		for _, p := range SamplePlacements(s) {
			checked++
			got := Command(strings.Join(p.Args, " "))
			gotArgs := strings.Join(Args(p.Args), "\x00")
			for _, out := range []string{got, gotArgs} {
				for _, form := range []string{s.Secret, url.QueryEscape(s.Secret), url.PathEscape(s.Secret)} {
					if strings.Contains(out, form) {
						leaks++
						t.Errorf("%s %s: secret %q survives in %q", s.Rule, p.Name, s.Secret, out)
					}
				}
			}
		}
	}
	t.Logf("%d formats, %d placements, %d leaks", len(samples), checked, leaks)
}

// TestBarePositionalKeys are the arguments that issue 20 found printed or stored: keys that
// servers take as a bare argument, without a flag or a name.
func TestBarePositionalKeys(t *testing.T) {
	neon := "napi_" + strings.Repeat("k3x9q2w7", 8)
	sid, key, secret := "AC"+strings.Repeat("0a1b2c3d", 4), "SK"+strings.Repeat("9f8e7d6c", 4), "Zx81kLmQ02pRt7vWy4nB3cD6"
	for _, tt := range []struct {
		args   []string
		secret string
	}{
		{[]string{"npx", "-y", "@neondatabase/mcp-server-neon", "start", neon}, neon},
		{[]string{"npx", "-y", "@twilio-alpha/mcp", sid + "/" + key + ":" + secret}, secret},
		{[]string{"npx", "-y", "@twilio-alpha/mcp", sid + "/" + key + ":" + secret, "--services", "twilio_api_v2010"}, secret},
	} {
		for _, out := range []string{Command(strings.Join(tt.args, " ")), strings.Join(Args(tt.args), " ")} {
			if strings.Contains(out, tt.secret) {
				t.Errorf("%q keeps its secret", out)
			}
			if !strings.Contains(out, Mask) || !strings.HasPrefix(out, "npx -y @") {
				t.Errorf("%q lost the command's shape", out)
			}
		}
	}
}

// TestConnectionStringsWithoutPasswordsAreKept: a database URL without a password is no
// credential, whatever the name of the flag or variable that holds it; with one, or any other URL
// after a secret name (a webhook's path is its secret), it goes.
func TestConnectionStringsWithoutPasswordsAreKept(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"--connection-string postgres://localhost/app", "--connection-string postgres://localhost/app"},
		{"--connectionString=mongodb://app@db.internal:27017/app", "--connectionString=mongodb://app@db.internal:27017/app"},
		{"DATABASE_URL=postgresql://app@db/prod?sslmode=require", "DATABASE_URL=postgresql://app@db/prod?sslmode=require"},
		{"--connection-string postgres://app:hunter2pass@localhost/app", "--connection-string " + Mask},
		{"DATABASE_URL=postgresql://app@db/prod?password=hunter2pass", "DATABASE_URL=postgresql://app@db/prod?password=" + Mask},
		{"--token https://hooks.example.com/T000/abcdefabcdef", "--token " + Mask},
		{"--webhook-secret=https://example.com/hook/abcdef123456", "--webhook-secret=" + Mask},
		{"Authorization: Bearer postgres://token-in-a-host", "Authorization: Bearer " + Mask},
	} {
		if got := Command(tt.in); got != tt.want {
			t.Errorf("Command(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{"postgres://localhost/app", true}, {"redis://cache:6379", true}, {"postgres://u:p@h/db", false},
		{"https://example.com/x", false}, {"postgres:///db", false}, {"mysql://h/db?pwd=x", false}, {"not a url", false},
	} {
		if got := PasswordlessURL(tt.v); got != tt.want {
			t.Errorf("PasswordlessURL(%q) = %v", tt.v, got)
		}
	}
}
