package notify_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/impl/notify"
)

// TestForbiddenAddrCoversInternalRanges: every special-purpose range, and this machine's own
// interface addresses, are refused; public addresses are not.
func TestForbiddenAddrCoversInternalRanges(t *testing.T) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && !notify.ForbiddenAddr(p.Addr()) {
			t.Errorf("this machine's own address %s should be forbidden", p.Addr())
		}
	}
	forbidden := []string{
		"127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
		"169.254.1.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "fc00::1",
		"fd00:ec2::254", "fe80::1", "::", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
		"64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "198.18.0.1",
		// RFC 8215 local-use NAT64 (reaching 10.0.0.1), Teredo, site-local, documentation
		"64:ff9b:1::a00:1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "fec0::1", "192.0.2.1", "198.51.100.7", "203.0.113.9",
	}
	for _, s := range forbidden {
		if !notify.ForbiddenAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s should be forbidden", s)
		}
	}
	for _, s := range []string{"93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "8.8.8.8"} {
		if notify.ForbiddenAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s should be allowed", s)
		}
	}
}

type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckWebhookURL(t *testing.T) {
	r := fakeResolver{
		"hooks.example.com":  {"93.184.216.34"},
		"sneaky.example.com": {"93.184.216.34", "10.0.0.5"}, // one internal address is enough to refuse
		"metadata.example":   {"169.254.169.254"},
	}
	ok := []string{"https://hooks.example.com/x", "http://93.184.216.34:8080/hook"}
	bad := map[string]string{
		"ftp://hooks.example.com/":           "scheme",
		"https://":                           "no host",
		"http://127.0.0.1:9000/":             "127.0.0.1",
		"http://[::1]/":                      "::1",
		"http://localhost/":                  "local host",
		"http://api.localhost/":              "local host",
		"http://169.254.169.254/latest/":     "169.254.169.254",
		"http://[fd00:ec2::254]/":            "fd00:ec2::254",
		"https://sneaky.example.com/":        "internal address",
		"https://metadata.example/":          "internal address",
		"https://does-not-exist.example.com": "does not resolve",
	}
	for _, u := range ok {
		if err := notify.CheckWebhookURL(context.Background(), r, u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for u, want := range bad {
		err := notify.CheckWebhookURL(context.Background(), r, u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error mentioning %q", u, err, want)
		}
	}
	// What an internal name resolves to is never said: it would map the internal network.
	for _, u := range []string{"https://sneaky.example.com/", "https://metadata.example/"} {
		if err := notify.CheckWebhookURL(context.Background(), r, u); err == nil || strings.Contains(err.Error(), "10.0.0.5") || strings.Contains(err.Error(), "169.254") {
			t.Errorf("%s: %v, want a refusal that does not say the address", u, err)
		}
	}
}

func TestSignatureRoundTripAndTampering(t *testing.T) {
	body := []byte(`{"event":"alert.created"}`)
	now := time.Unix(1_800_000_000, 0)
	sig := notify.Sign("whsec_x", now.Unix(), body)
	if !strings.HasPrefix(sig, "v1=") || len(sig) != 3+64 {
		t.Fatalf("signature %q", sig)
	}
	ts := "1800000000"
	if err := notify.Verify("whsec_x", ts, sig, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if notify.Verify("whsec_y", ts, sig, body, now, 5*time.Minute) == nil {
		t.Error("a wrong secret verified")
	}
	if notify.Verify("whsec_x", ts, sig, []byte(`{"event":"alert.created "}`), now, 5*time.Minute) == nil {
		t.Error("a changed body verified")
	}
	if notify.Verify("whsec_x", "1800000001", sig, body, now, 5*time.Minute) == nil {
		t.Error("a changed timestamp verified")
	}
	if notify.Verify("whsec_x", ts, sig, body, now.Add(6*time.Minute), 5*time.Minute) == nil {
		t.Error("a stale timestamp verified")
	}
}

// TestBackoffDoublesWithJitterUpToTheCap: each delay is base doubled per attempt, spread by up to
// a quarter either way, never above the cap; delays of the same attempt differ (jitter); and
// retrying for 24 hours stays well inside the API's maximum of 1000 attempts.
func TestBackoffDoublesWithJitterUpToTheCap(t *testing.T) {
	base, max := 30*time.Second, time.Hour
	for attempt := 1; attempt <= 12; attempt++ {
		nominal := min(base<<(attempt-1), time.Duration(float64(max)/1.25))
		seen := map[time.Duration]bool{}
		for range 50 {
			got := notify.Backoff(attempt, base, max)
			seen[got] = true
			if lo, hi := time.Duration(float64(nominal)*0.75), min(time.Duration(float64(nominal)*1.25), max); got < lo || got > hi {
				t.Fatalf("attempt %d: %v, want within [%v, %v]", attempt, got, lo, hi)
			}
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: only %d distinct delays in 50; no jitter?", attempt, len(seen))
		}
	}
	total, n := time.Duration(0), 0
	for total < 24*time.Hour {
		n++
		total += notify.Backoff(n, base, max)
	}
	if n > 45 {
		t.Errorf("%d attempts in 24h", n)
	}
}
func TestParseSMTPURL(t *testing.T) {
	c, err := notify.ParseSMTPURL("smtp://user%40x:p%3Ass@mail.example.com?from=alerts@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "mail.example.com" || c.Port != 587 || c.TLS != "starttls" || c.Username != "user@x" || c.Password != "p:ss" || c.From != "alerts@example.com" {
		t.Errorf("%+v", c)
	}
	for raw, want := range map[string]notify.SMTPConfig{
		"smtps://h?from=a@b.c":              {Host: "h", Port: 465, TLS: "tls", From: "a@b.c"},
		"smtp://h:2525?from=a@b.c&tls=none": {Host: "h", Port: 2525, TLS: "none", From: "a@b.c"},
		"smtp://h?from=a@b.c&tls=none":      {Host: "h", Port: 25, TLS: "none", From: "a@b.c"},
		"smtp://h:465?from=a@b.c&tls=tls":   {Host: "h", Port: 465, TLS: "tls", From: "a@b.c"},
	} {
		got, err := notify.ParseSMTPURL(raw)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"http://h?from=a@b.c", "smtp://h", "smtp://h?from=nope", "smtp://h?from=a@b.c&tls=maybe", "smtp://:25?from=a@b.c", "smtp://h:0?from=a@b.c"} {
		if _, err := notify.ParseSMTPURL(raw); err == nil {
			t.Errorf("%s: accepted", raw)
		}
	}
}

func TestComposeDigestListsEveryAlertOnOneLineEach(t *testing.T) {
	name, host := "files", "laptop\r\nBcc: evil@example.com"
	d := db.EmailDigest{OrganizationName: "Acme", Alerts: []db.Alert{
		{Severity: "critical", Title: "New critical server", Message: "m1", ServerName: &name, AgentHostname: &host},
		{Severity: "high", Title: "Risk rose\nBcc: x@y", Message: "m2"},
	}}
	subject, body := notify.ComposeDigest(d)
	if subject != "[mcpwarden] 2 new alerts for Acme (1 critical, 1 high)" {
		t.Errorf("subject %q", subject)
	}
	for _, want := range []string{"[CRITICAL] New critical server", "[HIGH] Risk rose Bcc: x@y", "host: laptop Bcc: evil@example.com"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}
