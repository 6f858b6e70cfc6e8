package redact

import (
	"strings"
	"testing"
)

// TestCutsAgreeWithTheirPatterns: cutEnvAssign and cutHeaderPair replace envAssign and
// headerPair on every argument, so they must split exactly the strings the patterns match.
func TestCutsAgreeWithTheirPatterns(t *testing.T) {
	inputs := []string{
		"", "=", "A=", "A=b", "_A.b-c=d=e", "1A=b", "A B=c", "A=b\nc", "A=b\rc", "A=\xff", "-A=b", "é=b",
		"GITHUB_TOKEN=abc123", "a.b=", "A:", "A:b", "A: b", "A:\t\n b", "A: b\nc", "A:\n", "X-API-Key:abc123",
		"Authorization: Bearer x", "a_b-c:d:e", "1a:b", "_a:b", "a.b:c", "a b:c", "https://x", "A:=b", "A=:b",
		"A:\f\r \n", "A: \xffb",
	}
	for _, in := range inputs {
		name, val, ok := cutEnvAssign(in)
		if m := envAssign.FindStringSubmatch(in); (m != nil) != ok || ok && (m[1] != name || m[2] != val) {
			t.Errorf("cutEnvAssign(%q) = %q, %q, %v; envAssign gives %q", in, name, val, ok, m)
		}
		name, val, ok = cutHeaderPair(in)
		if m := headerPair.FindStringSubmatch(in); (m != nil) != ok || ok && (m[1] != name || m[2] != val) {
			t.Errorf("cutHeaderPair(%q) = %q, %q, %v; headerPair gives %q", in, name, val, ok, m)
		}
	}
}

func TestIsPasswordProgramAgreesWithProgramName(t *testing.T) {
	for _, in := range []string{
		"mysql", "MySQL", "/usr/bin/mysql", `C:\bin\MYSQL.EXE`, "mysql.exe", "mysql/", "redis-cli", "valkey-cli",
		"VAL\u212aEY-CLI", "npx", "", "/", `\`, "mariadb-dump.exe", "mariadb-dump.exe.exe", "mysqlx", "-p", "sshpass",
		"./bin/mongosh", "a/very-long-program-name-indeed",
	} {
		wantP, wantOK := passwordPrograms[programName(in)]
		if p, ok := isPasswordProgram(in); p != wantP || ok != wantOK {
			t.Errorf("isPasswordProgram(%q) = %q, %v; want %q, %v", in, p, ok, wantP, wantOK)
		}
	}
}

// TestEveryKeyFormatIsStillRedacted: with the prefilters in front of the patterns, each known
// secret format is still found inside an argument.
func TestEveryKeyFormatIsStillRedacted(t *testing.T) {
	r := func(n int) string { return strings.Repeat("a1B2", n)[:n] }
	hex := func(n int) string { return strings.Repeat("0a1b", n)[:n] }
	samples := []string{
		"AKIA" + strings.Repeat("A1", 8), "ASIA" + strings.Repeat("B2", 8), "A3TX" + strings.Repeat("C3", 8),
		"ghp_" + r(36), "gho_" + r(36), "ghu_" + r(36), "ghs_" + r(36), "ghr_" + r(36), "github_pat_" + r(40),
		"glpat-" + r(20), "gldt-" + r(24), "xoxb-" + r(20), "xoxp-" + r(20), "xapp-1-" + r(20),
		"hooks.slack.com/services/T000/B000/" + r(24), "sk_live_" + r(24), "rk_test_" + r(24), "pk_live_" + r(24),
		"whsec_" + r(32), "AIza" + r(35), "ya29." + r(30), "GOCSPX-" + r(28), "mcp_sk_" + r(16), jwt,
		"hf_" + r(34), "npm_" + r(36), "pypi-" + r(60), "SG." + r(22) + "." + r(43), "lin_api_" + r(40),
		"ntn_" + r(46), "secret_" + r(43), "gsk_" + r(52), "xai-" + r(80), "pplx-" + r(48), "tvly-" + r(32),
		"dop_v1_" + hex(64), "shpat_" + hex(32), "sbp_" + hex(40), "ATATT3" + r(60), "PMAK-" + hex(24) + "-" + hex(34),
		"-----BEGIN RSA PRIVATE KEY-----MIIabc-----END RSA PRIVATE KEY-----", "sk-" + r(40), "sk-proj-" + r(40),
	}
	for _, secret := range samples {
		cmds := []string{`server "` + secret + `" --port 3000`, `server --x="` + secret + `"`}
		if !strings.Contains(secret, " ") { // a key with spaces is one argument only when quoted
			cmds = append(cmds, secret, "server "+secret+" --port 3000", "X_LABEL="+secret)
		}
		for _, cmd := range cmds {
			got := Command(cmd)
			if strings.Contains(got, secret) || !strings.Contains(got, Mask) {
				t.Errorf("Command(%q) = %q, want the secret redacted", cmd, got)
			}
		}
	}
}
