package jsonenc

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

func TestStringEncodesAsEncodingJSONDoes(t *testing.T) {
	cases := []string{"", "plain text", `quote " and backslash \`, "<script>&amp;</script>",
		"tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f", "caf\u00e9 \u2028 \u2029 \u2027 \u202a \U0001F600",
		"bad \xff utf-8 \xc3", "\xe2\x80", "/home/dev --profile 5e41-598-7"}
	for b := 0; b < 256; b++ {
		cases = append(cases, string([]byte{byte(b)}), "a"+string([]byte{byte(b)})+"z")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune{'a', ' ', '"', '\\', '<', '&', '\n', 0, 0x1f, 'é', '\u2028', '\u2029', '\U0001F600', 0xFFFD}
	for range 2000 {
		var b []byte
		for range rng.IntN(24) {
			if rng.IntN(8) == 0 {
				b = append(b, byte(rng.IntN(256))) // often invalid UTF-8
				continue
			}
			b = append(b, string(alphabet[rng.IntN(len(alphabet))])...)
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestStringsAndPointersEncodeAsEncodingJSONDoes(t *testing.T) {
	s := "x<y"
	for _, c := range []struct {
		got  []byte
		want any
	}{
		{Strings(nil, nil), []string(nil)},
		{Strings(nil, []string{}), []string{}},
		{Strings(nil, []string{"A", "b\"c"}), []string{"A", "b\"c"}},
		{StringPtr(nil, nil), (*string)(nil)},
		{StringPtr(nil, &s), &s},
	} {
		want, _ := json.Marshal(c.want)
		if string(c.got) != string(want) {
			t.Errorf("got %s, want %s", c.got, want)
		}
	}
	obj := append(Key([]byte("{"), "a"), '1')
	obj = append(String(Key(obj, "b"), "c"), '}')
	if string(obj) != `{"a":1,"b":"c"}` {
		t.Errorf("Key: %s", obj)
	}
}

// configServer holds the fields of a server that its configuration hash covers.
type configServer struct {
	typ, command, scope string
	env                 []string
	transport, url      *string
}

// reportConfigs are the servers of an agent's 10-server report, as the load generator's changed
// reports send them.
func reportConfigs() []configServer {
	stdio := "stdio"
	env := []string{"GITHUB_PERSONAL_ACCESS_TOKEN"}
	return []configServer{
		{"@modelcontextprotocol/server-filesystem", "npx -y @modelcontextprotocol/server-filesystem /home/dev/projects --profile abc-12-1", "/home/dev/projects", env, &stdio, nil},
		{"@modelcontextprotocol/server-github", "npx -y @modelcontextprotocol/server-github --profile abc-12-1", "", env, &stdio, nil},
		{"@modelcontextprotocol/server-postgres", "npx -y @modelcontextprotocol/server-postgres postgresql://localhost/app --profile abc-12-1", "", env, &stdio, nil},
		{"mcp-server-git", "uvx mcp-server-git --repository /home/dev/projects/app --profile abc-12-1", "/home/dev/projects/app", env, &stdio, nil},
		{"mcp-server-fetch", "uvx mcp-server-fetch --profile abc-12-1", "", env, &stdio, nil},
		{"@modelcontextprotocol/server-memory", "npx -y @modelcontextprotocol/server-memory --profile abc-12-1", "", env, &stdio, nil},
		{"@modelcontextprotocol/server-puppeteer", "npx -y @modelcontextprotocol/server-puppeteer --profile abc-12-1", "", env, &stdio, nil},
		{"@modelcontextprotocol/server-slack", "npx -y @modelcontextprotocol/server-slack --profile abc-12-1", "", env, &stdio, nil},
		{"mcp-server-sqlite", "uvx mcp-server-sqlite --db-path /home/dev/data.db --profile abc-12-1", "/home/dev/data.db", env, &stdio, nil},
		{"mcp.example.com", "https://mcp.example.com/mcp --profile abc-12-1", "", env, &stdio, nil},
	}
}

// appendConfig appends s as impl/ingest's configHash writes it: [type, command, scope, env,
// transport, url].
func appendConfig(b []byte, s configServer) []byte {
	b = append(b, '[')
	b = append(String(b, s.typ), ',')
	b = append(String(b, s.command), ',')
	b = append(String(b, s.scope), ',')
	b = append(Strings(b, s.env), ',')
	b = append(StringPtr(b, s.transport), ',')
	return append(StringPtr(b, s.url), ']')
}

// marshalConfig is appendConfig by encoding/json.
func marshalConfig(s configServer) ([]byte, error) {
	return json.Marshal([]any{s.typ, s.command, s.scope, s.env, s.transport, s.url})
}

// BenchmarkConfigText writes the text of the configuration hashes of a report's 10 servers, with
// this package and with encoding/json.Marshal, side by side.
func BenchmarkConfigText(b *testing.B) {
	servers := reportConfigs()
	for _, s := range servers {
		want, err := marshalConfig(s)
		if err != nil {
			b.Fatal(err)
		}
		if got := appendConfig(nil, s); string(got) != string(want) {
			b.Fatalf("appendConfig = %s, encoding/json writes %s", got, want)
		}
	}
	b.Run("jsonenc", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			for _, s := range servers {
				var scratch [512]byte // as configHash does
				n += len(appendConfig(scratch[:0], s))
			}
		}
		_ = n
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			for _, s := range servers {
				text, err := marshalConfig(s)
				if err != nil {
					b.Fatal(err)
				}
				n += len(text)
			}
		}
		_ = n
	})
}
