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
