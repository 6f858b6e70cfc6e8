package redact

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The golden file pins what Command, Args and LooksSecretName return for a large corpus, so that
// changes made for speed cannot change an output; regenerate it (go test ./impl/redact -run Golden -update) only for a
// change that is meant to redact differently, and say so in the commit.
var updateGolden = flag.Bool("update", false, "rewrite testdata/redact.golden from the current implementation")

const goldenPath = "testdata/redact.golden"

// goldenBlock is how many generated cases one recorded hash covers.
const goldenBlock = 64

func TestOutputsMatchGolden(t *testing.T) {
	got := goldenLines()
	if *updateGolden {
		if err := os.WriteFile(goldenPath, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d golden lines, the corpus gives %d: the corpus generator changed", len(want), len(got))
	}
	failures := 0
	for i := range got {
		if got[i] == want[i] {
			continue
		}
		failures++
		if failures > 20 {
			t.Fatal("too many differences")
		}
		if kind, block, ok := parseHashLine(want[i]); ok {
			t.Errorf("%s block %d differs; its cases now give:\n%s", kind, block, strings.Join(blockCases(kind, block), "\n"))
			continue
		}
		t.Errorf("golden line %d\n got %s\nwant %s", i+1, got[i], want[i])
	}
	t.Logf("%d curated commands, %d generated commands (%d of them secrets in context), %d argument vectors, %d names",
		len(curatedCommands()), len(generatedCommands()), len(secretContexts()), len(generatedArgs()), len(generatedNames()))
}

// goldenLines lists the curated commands with their redaction in full, then one hash for each
// block of generated cases (listing them all would take megabytes).
func goldenLines() []string {
	var lines []string
	for _, c := range curatedCommands() {
		lines = append(lines, "command\t"+strconv.Quote(c)+"\t"+strconv.Quote(Command(c)))
	}
	for _, kind := range []string{"command", "args", "name"} {
		n := len(generatedCases(kind))
		for b := 0; b*goldenBlock < n; b++ {
			h := sha256.New()
			for _, c := range blockCases(kind, b) {
				h.Write([]byte(c))
				h.Write([]byte{0})
			}
			lines = append(lines, fmt.Sprintf("hash\t%s\t%d\t%s", kind, b, hex.EncodeToString(h.Sum(nil))))
		}
	}
	return lines
}

func parseHashLine(l string) (kind string, block int, ok bool) {
	f := strings.Split(l, "\t")
	if len(f) != 4 || f[0] != "hash" {
		return "", 0, false
	}
	b, err := strconv.Atoi(f[2])
	return f[1], b, err == nil
}

// blockCases renders the cases of one block as "input → output" lines.
func blockCases(kind string, block int) []string {
	all := generatedCases(kind)
	end := min((block+1)*goldenBlock, len(all))
	return all[block*goldenBlock : end]
}

var generatedCache = map[string][]string{}

func generatedCases(kind string) []string {
	if c, ok := generatedCache[kind]; ok {
		return c
	}
	var out []string
	switch kind {
	case "command":
		for _, c := range generatedCommands() {
			out = append(out, strconv.Quote(c)+" → "+strconv.Quote(Command(c)))
		}
	case "args":
		for _, a := range generatedArgs() {
			out = append(out, fmt.Sprintf("%q → %q", a, Args(a)))
		}
	case "name":
		for _, n := range generatedNames() {
			out = append(out, fmt.Sprintf("%q → %v", n, LooksSecretName(n)))
		}
	}
	generatedCache[kind] = out
	return out
}

// corpusRand is splitmix64: the corpus must not change with the Go release's math/rand.
type corpusRand uint64

func (r *corpusRand) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (r *corpusRand) intn(n int) int { return int(r.next() % uint64(n)) }

func (r *corpusRand) pick(s []string) string { return s[r.intn(len(s))] }

// secretSamples hold one or more credentials of every format the package knows, at and around
// the lengths the patterns accept.
func secretSamples() []string {
	r := func(n int) string { return strings.Repeat("a1B2", n/4+1)[:n] }
	hex := func(n int) string { return strings.Repeat("0a1b", n/4+1)[:n] }
	up := func(n int) string { return strings.Repeat("Q7Z3", n/4+1)[:n] }
	var out []string
	for _, p := range []string{"AKIA", "ASIA", "ABIA", "ACCA", "A3TX", "A3T9", "AKIa", "akia"} {
		for _, n := range []int{15, 16, 17} {
			out = append(out, p+up(n))
		}
	}
	for _, p := range []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "ghx_", "GHP_"} {
		for _, n := range []int{29, 30, 36, 255, 256} {
			out = append(out, p+r(n))
		}
	}
	for _, n := range []int{21, 22, 40, 255, 256} {
		out = append(out, "github_pat_"+r(n), "github_pat_"+r(n/2)+"_"+r(n/2))
	}
	for _, p := range []string{"glpat-", "gldt-", "glrt-", "glptt-", "glsoat-", "glcbt-", "glxx-"} {
		for _, n := range []int{19, 20, 40} {
			out = append(out, p+r(n), p+r(n/2)+"-_"+r(n/2))
		}
	}
	for _, p := range []string{"xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xoxz-"} {
		out = append(out, p+r(9), p+r(10), p+"1234-5678-"+r(24))
	}
	out = append(out, "xapp-1-"+r(9), "xapp-1-"+r(10), "xapp-A-"+r(20), "xapp-9-A0-"+r(30))
	for _, k := range []string{"services", "workflows", "triggers", "other"} {
		out = append(out, "hooks.slack.com/"+k+"/T000/B000/"+r(24), "https://hooks.slack.com/"+k+"/", "hooks.slack.com/"+k+"/x")
	}
	for _, p := range []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "tk_live_", "sk_prod_"} {
		out = append(out, p+r(9), p+r(10), p+r(30), p+r(30)+"_x")
	}
	for _, n := range []int{19, 20, 32} {
		out = append(out, "whsec_"+r(n), "ya29."+r(n), "GOCSPX-"+r(n), "tvly-"+r(n), "glpat-"+r(n))
	}
	out = append(out, "AIza"+r(34), "AIza"+r(35), "AIza"+r(36), "AIza"+r(20)+"-_"+r(13))
	out = append(out, "mcp_sk_"+r(7), "mcp_sk_"+r(8), "mcp_sk_"+r(30), "mcp_sk_0123456789abcdef")
	out = append(out, jwt, "eyJ"+r(8)+"."+r(8)+"."+r(8), "eyJ"+r(7)+"."+r(8)+"."+r(8), "eyJ"+r(10)+"."+r(10), "eyJhbGciOi.eyJzdWIiOi.abcdefghij")
	for _, n := range []int{29, 30, 34, 60} {
		out = append(out, "hf_"+r(n))
	}
	out = append(out, "npm_"+r(35), "npm_"+r(36), "npm_"+r(37))
	out = append(out, "pypi-"+r(49), "pypi-"+r(50), "pypi-"+r(80))
	out = append(out, "SG."+r(16)+"."+r(16), "SG."+r(15)+"."+r(43), "SG."+r(22)+"."+r(43))
	for _, p := range []string{"lin_api_", "lin_oauth_", "lin_key_"} {
		out = append(out, p+r(31), p+r(32), p+r(40))
	}
	out = append(out, "ntn_"+r(39), "ntn_"+r(40), "ntn_"+r(46))
	out = append(out, "secret_"+r(42), "secret_"+r(43), "secret_"+r(44))
	for _, p := range []string{"gsk_", "xai-", "pplx-"} {
		out = append(out, p+r(39), p+r(40), p+r(52))
	}
	out = append(out, "dop_v1_"+hex(63), "dop_v1_"+hex(64), "dop_v1_"+hex(65), "dop_v1_"+strings.ToUpper(hex(64)))
	for _, p := range []string{"shpat_", "shpca_", "shppa_", "shpss_", "shpxx_"} {
		out = append(out, p+hex(31), p+hex(32), p+strings.ToUpper(hex(32)), p+hex(33))
	}
	out = append(out, "sbp_"+hex(39), "sbp_"+hex(40), "sbp_"+hex(41))
	out = append(out, "ATATT3"+r(49), "ATATT3"+r(50), "ATATT3"+r(30)+"=_-"+r(30))
	out = append(out, "PMAK-"+hex(24)+"-"+hex(34), "PMAK-"+hex(23)+"-"+hex(34), "PMAK-"+hex(24)+"-"+hex(35))
	out = append(out,
		"-----BEGIN RSA PRIVATE KEY-----MIIabc-----END RSA PRIVATE KEY-----",
		"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
		"-----BEGIN OPENSSH PRIVATE KEY-----abc", "-----BEGIN PUBLIC KEY-----abc", "-----BEGIN EC PRIVATE KEY-----a-b",
	)
	for _, p := range []string{"sk-", "sk-ant-", "sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-api03-"} {
		out = append(out, p+r(19), p+r(20), p+r(40), p+strings.Repeat("abcdefghij", 4))
	}
	out = append(out, ghp, awsKey, "desk-mcp-server-for-everything-everywhere", "task-runner-abcdefghijklmnopqrstu")
	return out
}

// curatedCommands are the inputs of the package's tests, the benchmark's commands, and the ways a
// flag, an assignment, a header, a URL or a quote carries a value.
func curatedCommands() []string {
	out := append([]string{}, benchCommands...)
	out = append(out,
		"npx -y @modelcontextprotocol/server-github", "npx -y @modelcontextprotocol/server-filesystem /Users/jane/Desktop /tmp",
		"mcp-proxy --port 8080 --host 0.0.0.0", "docker run -p 8080:80 -i --rm mcp/fetch", "npx -y -p @playwright/mcp playwright-mcp",
		"uvx -p 3.12 mcp-server-git --repository /src/repo",
		"docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN ghcr.io/github/github-mcp-server",
		"env TOKENIZERS_PARALLELISM=false LOG_LEVEL=debug python -m server",
		"server --token-file /run/secrets/gh --key-path ~/.ssh/id", "server --token-url https://auth.example.com/oauth/token",
		"server --no-auth /srv/data", "https://mcp.example.com/sse", "https://git@github.com/org/repo.git",
		"https://api.example.com/mcp?region=eu&format=json", "npx desk-mcp-server-for-everything-everywhere",
		"server --token ${GITHUB_TOKEN} --api-key $OPENAI_API_KEY",
		`C:\Program Files\nodejs\npx.cmd -y @modelcontextprotocol/server-filesystem C:\Users\jane\Documents`, "",
		"npx -y @modelcontextprotocol/server-postgres postgres://u:hunter2pass@db/x", "mongodb+srv://admin:p@ss@cluster0.mongodb.net/db",
		"redis://:s3cr3t@localhost:6379/0", "server --token=abc123def", "server --token abc123def --port 3000",
		"server --api-key sk_abc_123 --verbose", "server --api_key=xyz", "server --password hunter2", "server --client-secret=s3cr3tvalue",
		"server --auth user:pass", "server -token abc -addr :8080", "server --token --verbose", "mysql -u root -phunter2 -h db",
		"sshpass -p hunter2 ssh host", "redis-cli -h cache -a hunter2", "GITHUB_TOKEN=abc123 npx server",
		"docker run -e API_KEY=abc123 -e LOG=1 img", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY aws s3 ls",
		"https://mcp.example.com/sse?token=abc123&region=eu", "https://api.example.com/mcp?api_key=abc&apiKey=def",
		"wss://x.example.com/ws?access_token=abc", "aws --access "+awsKey, "server "+ghp, "gho_16C7e42F292c6912E7710c838347Ae178B4a",
		"x-access-token:ghs_16C7e42F292c6912E7710c838347Ae178B4a",
		"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV", "glpat-xxxxxxxxxxxxxxxxxxxx",
		"xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
		"sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD", "OPENAI=sk-proj-Ab3dEfGhIjKlMnOpQrStUvWx_yz-0123456789",
		"--header x:sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345-ABCDEF", "sk_live_51H8abcdefghijklmnop", "rk_live_51H8abcdefghijklmnop",
		"AIzaSyA-abcdefghijklmnopqrstuvwxyz12345", "mcpwarden-agent run --key mcp_sk_0123456789abcdef", "X=mcp_sk_0123456789abcdef",
		"curl "+jwt, `curl -H "Authorization: Bearer abc.def.ghi" https://x`, "mcp-remote https://x/sse --header Authorization: Bearer abcdef123",
		"mcp-remote https://x/sse --header Authorization:${AUTH_HEADER}", "--header X-API-Key:abc123", "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH",
		"npm_abcdefghijklmnopqrstuvwxyz0123456789", "Basic dXNlcjpwYXNzd29yZA==", `server --password "correct horse battery"`,
		"postgres://u:[REDACTED]@db/x --token [REDACTED]", "  a  --token\tx ", "https://user:pa55@host/x?token=abc&x=1",
		"BEARER abcdefghijklmnopqrstuvwxyz", "Basic dXNlcjpwYXNz", "baſic dXNlcjpwYXNz", "-----BEGIN RSA PRIVATE KEY-----abc",
		"ya29.abcdefghijklmnopqrstuvwxyz", "npx -y server /home/dev",
	)
	// Arguments that decide how the next one is read, and the ways a value is attached.
	out = append(out,
		"mysql -p", "mysql -p -u root", "MYSQL.EXE -pSecret", `C:\bin\mysql.exe -psecret`, "/usr/bin/mysqldump -p hunter2 db",
		"mariadb-dump -phunter2", "mysqlsh -p", "mongosh -p secret", "mongo -p ''", "redis-cli -a", "valkey-cli -a pass -p 6379",
		"VAL\u212aEY-CLI -a pass", "mysql/ -phunter2", "mysqlx -phunter2", "npx mysql -phunter2", "sshpass -p", "sshpass -phunter2 ssh",
		"mysql -p --password=x", "mysql -p-", "mysql -pa -pb", "redis-cli -a -a", "redis-cli -ab", "mysql --port 3306 -phunter2",
		"server --token", "server --token ''", `server --token ""`, "server --token -", "server --token --token x",
		"server --token Bearer x", "server --token bearer basic x", `server --token "Bearer" x`, "server --token BASIC",
		"server --header Authorization: Bearer", "server --header Authorization:", "server --header Authorization: basic abc",
		"server Authorization: token abcdefghijklmnopqrstuvwxyz", "server Authorization: token short",
		"Authorization: Bearer", "bearer", "Bearer", "BASIC x", "Bearer ${TOKEN}", "Bearer $TOKEN", "Bearer %TOKEN%", "Bearer {env:TOKEN}",
		"--token=${TOKEN}", "--token=$TOKEN", "--token=%TOKEN%", "--token={env:TOKEN}", "--token='${TOKEN}'", `--token="$TOKEN"`,
		"--token=", "--token==", "--token=a=b", "-token=abc", "-t=abc", "-p=abc", "---token=abc", "--=abc", "--", "-", "-=",
		"--api-key", "--apiKey=x", "--API_KEY=x", "--openAIKey=x", "--no-token=x", "--token-file=x", "--tokenFile=x",
		"--client_secret x", "--db-password x", "--pass x", "--pw x", "--pwd x", "--keys x", "--keyboard x", "--monkey x",
		"--x-amz-signature=abc", "--connection-string 'Server=x;Password=y'", "--CONNECTION_STRING=x", "--pass-phrase x",
		"TOKEN=x", "token=x", "_TOKEN=x", "1TOKEN=x", "A.TOKEN=x", "A-TOKEN=x", "A TOKEN=x", "TOKEN=", "TOKEN='x'", "TOKEN=\"x\"",
		"TOKEN=a\nb", "TOKEN=${X}", "TOKEN=$X", "'TOKEN=x'", `"TOKEN=x"`, "X-API-Key: abc", "X-API-Key:\tabc", "X-API-Key:", "X-API-Key: a\nb",
		"Cookie: a=b", "Authorization: Basic x", "authorization: token abcdefghijklmnopqrstu", "Authorization:Bearer%20abc",
		"Authorization: Bearer+abc", "Token+abcdefghijklmnopqrstuvwxyz", "token%20abcdefghijklmnopqrstuvwxyz", "token abcdefghijklmnop",
		"token abcdefghijklmno", "the token is here", "TOKEN\tabcdefghijklmnopqrstuvwxyz", "x?token=abc", "x&token=abc", "x;token=abc",
		"?token=", "?=x", "a?b?token=c", "?token=abc#frag", "?token=\"abc\"", "?sig=abc&x=y", "?X-Amz-Signature=abc&X-Amz-Date=1",
		"?token=[REDACTED]", "?token=${T}", "https://u:${PASS}@h", "https://u:$PASS@h", "https://u:[REDACTED]@h", "HTTPS://U:P@H",
		"git+ssh://u:p@h/x", "x://u:p@h", "1x://u:p@h", "://u:p@h", "https://u:p/@h", "https://u:p?@h", "https://u@h:p@x",
		"https://u:p@h@i", "https://u:p@", "https://:@h", "ftp://anonymous:guest@ftp.example.com", "https://u:pé@h", "https://ü:p@h",
		"postgres://user:pa ss@h", "'postgres://u:p@h/x'", `"postgres://u:p@h/x"`, "jdbc:postgresql://u:p@h/x",
		"[REDACTED]", "'[REDACTED]'", "--token=[REDACTED]", "''", `""`, `"`, "'", `"'`, `'"`, `a"b c"d e`, `a "b c`, `"a b" "c`,
		"\t", " ", "\n", "\u00a0", "a\u00a0b", "a\u2003b", "a\u0085b", "\xff", "a\xffb --token \xff", "\xc3\x28", "é", "ſk-abc",
		"--tokén x", "--ТОКЕН x", "ТОКЕН=x", "--Kelvin\u212a x", "--\u212aey x", "--ſecret x", "--secreţ x", "--ap\u0130key x",
	)
	return out
}

// secretContexts put every secret sample alone and in the places a command carries one.
func secretContexts() []string {
	var out []string
	for _, s := range secretSamples() {
		out = append(out,
			s, "server "+s+" --port 3000", `server "`+s+`"`, "server '"+s+"'", "--x="+s, "X_LABEL="+s, "--token "+s,
			"x"+s, s+"x", "_"+s, s+"_", "-"+s, s+"-", "."+s, "é"+s, s+"é", strings.ToUpper(s), strings.ToLower(s),
			"https://u:"+s+"@host/x", "https://host/x?token="+s+"&y=1", "https://host/x?q="+s, "Authorization: Bearer "+s,
			`--header "Authorization: Bearer `+s+`"`, "Bearer "+s, "token "+s, "mysql -p"+s, "redis-cli -a "+s,
			s+" "+s, s+s, s+","+s, "["+s+"]",
		)
	}
	return out
}

var nameWords = []string{
	"token", "tokens", "secret", "secrets", "password", "passwords", "passwd", "apikey", "apikeys", "accesskey", "privatekey",
	"secretkey", "credential", "credentials", "passphrase", "bearer", "cookie", "signature", "authorization", "connectionstring",
	"connstr", "pass", "pwd", "pw", "key", "keys", "auth", "pat", "sig", "dsn", "jwt", "creds", "otp", "file", "path", "dir",
	"directory", "url", "uri", "endpoint", "host", "port", "type", "name", "mode", "env", "var", "length", "ttl", "expiry",
	"timeout", "count", "enabled", "method", "location", "required", "scopes", "scope", "no", "disable", "skip", "without",
	"api", "access", "private", "client", "github", "open", "ai", "aws", "connection", "string", "phrase", "board", "monkey",
	"x", "amz", "log", "level", "db", "1", "2fa", "v2", "IO", "ID", "HTTP", "ſecret", "tōken", "\u212aey", "ТОКЕН", "é", "",
}

var nameSeparators = []string{"", "", "_", "-", ".", " ", ":", "/", "__", "\xff", "é", "\u00a0", "1"}

// generatedNames are names built from the words LooksSecretName knows, in every case style.
func generatedNames() []string {
	r := corpusRand(1)
	var out []string
	for range 12000 {
		n := 1 + r.intn(4)
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(r.pick(nameSeparators))
			}
			w := r.pick(nameWords)
			switch r.intn(5) {
			case 0:
				w = strings.ToUpper(w)
			case 1:
				if w != "" {
					w = strings.ToUpper(w[:1]) + w[1:]
				}
			case 2:
				w = flipCase(&r, w)
			}
			b.WriteString(w)
		}
		out = append(out, b.String())
	}
	return out
}

func flipCase(r *corpusRand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if r.intn(3) == 0 && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			b[i] = c ^ 0x20
		}
	}
	return string(b)
}

// fragments are the pieces random commands are made of: the characters the patterns and the
// splitting care about, the starts of secrets, and what is hard for UTF-8 and case folding.
var fragments = []string{
	" ", " ", "  ", "\t", "\n", "\r", "\v", "\f", `"`, "'", "=", ":", "@", "/", "?", "&", ";", "#", ",", "-", "--", "_", ".",
	"%20", "+", "://", "${", "}", "$", "%", "{env:", "\\", "é", "ſ", "\u212a", "\u0130", "\u00a0", "\u2003", "\u0085", "\u3000",
	"\xff", "\xc3", "\xe2\x80", "\x00", "\ufffd", "Bearer ", "basic ", "Token ", "TOKEN", "token", "secret", "KEY", "key", "auth",
	"pass", "sk-", "ghp_", "gho_", "AKIA", "eyJ", "-----BEGIN ", "PRIVATE KEY-----", "-----END ", "[REDACTED]", "hooks.slack.com/",
	"services/", "xox", "xoxb-", "sk_live_", "_test_", "glpat-", "npm_", "hf_", "SG.", "ya29.", "AIza", "mcp_sk_", "github_pat_",
	"https://", "postgres://", "u:p@", "?token=", "&api_key=", "--token", "--api-key=", "-p", "-a", "mysql", "redis-cli",
	"npx", "-y", "@modelcontextprotocol/server-", "docker", "run", "-e", "GITHUB_TOKEN=", "Authorization:", "X-API-Key:",
	"0123456789", "abcdefghij", "ABCDEFGHIJ", "a1B2c3D4e5F6g7H8i9J0", "0a1b2c3d4e5f6a7b8c9d", "x", "Z", "9",
}

// generatedCommands mutate the curated commands and make random ones out of fragments and bytes.
func generatedCommands() []string {
	r := corpusRand(2)
	seeds := append(curatedCommands(), secretContexts()...)
	out := secretContexts()
	for range 40000 {
		s := r.pick(seeds)
		for range 1 + r.intn(4) {
			s = mutate(&r, s, seeds)
		}
		out = append(out, s)
	}
	for range 15000 {
		var b strings.Builder
		for range 1 + r.intn(30) {
			b.WriteString(r.pick(fragments))
		}
		out = append(out, b.String())
	}
	for range 3000 {
		b := make([]byte, r.intn(60))
		for i := range b {
			b[i] = byte(r.next())
		}
		out = append(out, string(b))
	}
	// Long inputs: many arguments, and single arguments far longer than any pattern's bound.
	for i := range 20 {
		var b strings.Builder
		for b.Len() < 2000*(i+1) {
			b.WriteString(r.pick(seeds))
			b.WriteString(r.pick([]string{" ", "  ", "\t", "", "="}))
		}
		out = append(out, b.String())
	}
	for _, p := range []string{"ghp_", "sk-", "AKIA", "eyJ", "xoxb-", "hf_", "github_pat_", "a", "https://u:", "?token="} {
		out = append(out, p+strings.Repeat("a1B2", 300), "x "+p+strings.Repeat("Ab_-", 2000)+"@h", p+strings.Repeat("é", 500))
	}
	return out
}

func mutate(r *corpusRand, s string, seeds []string) string {
	pos := func() int { return r.intn(len(s) + 1) }
	switch r.intn(9) {
	case 0, 1: // insert a fragment
		i := pos()
		return s[:i] + r.pick(fragments) + s[i:]
	case 2: // delete a span
		i := pos()
		j := min(len(s), i+r.intn(8))
		return s[:i] + s[j:]
	case 3: // replace a span
		i := pos()
		j := min(len(s), i+r.intn(4))
		return s[:i] + r.pick(fragments) + s[j:]
	case 4: // change case
		if r.intn(2) == 0 {
			return flipCase(r, s)
		}
		return strings.ToUpper(s)
	case 5: // join another command
		return s + r.pick([]string{" ", "", "=", ":", "\t", "@"}) + r.pick(seeds)
	case 6: // repeat a span
		i := pos()
		j := min(len(s), i+r.intn(12))
		return s[:j] + s[i:j] + s[j:]
	case 7: // insert a random byte
		i := pos()
		return s[:i] + string([]byte{byte(r.next())}) + s[i:]
	default: // cut
		return s[:pos()]
	}
}

// generatedArgs are argument vectors: the curated and generated commands split at white space
// and at single spaces (so arguments can be empty or hold spaces), and random vectors.
func generatedArgs() [][]string {
	r := corpusRand(3)
	var out [][]string
	for _, c := range curatedCommands() {
		out = append(out, strings.Fields(c), strings.Split(c, " "))
	}
	cmds := generatedCommands()
	for i := 0; i < len(cmds); i += 7 {
		out = append(out, strings.Fields(cmds[i]))
	}
	seeds := append(curatedCommands(), secretContexts()...)
	for range 6000 {
		a := make([]string, r.intn(7))
		for i := range a {
			switch r.intn(3) {
			case 0:
				a[i] = r.pick(fragments)
			case 1:
				a[i] = r.pick(seeds)
			default:
				a[i] = r.pick(fragments) + r.pick(fragments) + r.pick(fragments)
			}
		}
		out = append(out, a)
	}
	return out
}
