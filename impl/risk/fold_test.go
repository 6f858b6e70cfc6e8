package risk

import (
	"slices"
	"strings"
	"testing"
)

// foldInputs include the runes whose lower case is ASCII (U+0130, U+212A),
// a rune that folds to 's' without lowering to it (U+017F) and invalid UTF-8.
var foldInputs = []string{
	"", "h", "http:/", "http://x", "HTTP://X", "Https://x", "hTtPs://", "ws://a", "WSS://a", "wss:/",
	"httpſ://x", "ſ", "ws\u212a://", "\u0130http://", "\xffhttp://", "http\xff://",
	"a.js", "A.JS", "b.Mjs", "x.ts", "x.TS.bak", "run.PS1", "x.PyZ", "x.jſ", "x.j\u212a", "\xff.py", ".py", "py",
	"$HOME", "${Home}/x", "%UserProfile%", "${workspaceFolder}", "${wor\u212aspacefolder}", "%USERPROF\u0130LE%",
	"$pwd", "%APPDATA%\\x", "x$HOME", "home",
	"npx -y x ghp_abc", "sk-", "s", "AKIA", "akia", "xo", "xox", "hf_", "hf", "npm_", "npm", "lin_api_", "github_pat_",
}

// TestFoldHelpersMatchToLower pins the hand-written helpers to the
// strings.ToLower and strings.Contains forms they replace.
func TestFoldHelpersMatchToLower(t *testing.T) {
	urlOld := func(s string) bool {
		ls := strings.ToLower(s)
		return strings.HasPrefix(ls, "http://") || strings.HasPrefix(ls, "https://") ||
			strings.HasPrefix(ls, "ws://") || strings.HasPrefix(ls, "wss://")
	}
	scriptOld := func(t string) bool {
		lt := strings.ToLower(t)
		for _, ext := range []string{".js", ".mjs", ".cjs", ".ts", ".mts", ".py", ".jar", ".sh", ".ps1", ".rb", ".pyz"} {
			if strings.HasSuffix(lt, ext) {
				return true
			}
		}
		return false
	}
	keyOld := func(s string) bool {
		for _, p := range keyPrefixes {
			if strings.Contains(s, p) {
				return true
			}
		}
		return false
	}
	pathVarOld := func(s string) bool {
		ls := strings.ToLower(s)
		for _, v := range []string{"$home", "${home}", "%userprofile%", "${userhome}", "${workspacefolder}", "$pwd", "${pwd}", "%homepath%", "%appdata%", "%localappdata%"} {
			if strings.HasPrefix(ls, v) {
				return true
			}
		}
		return false
	}
	for _, s := range foldInputs {
		// The variable test is isPathLike's last one: for inputs that are not paths otherwise.
		if s != "" && !strings.Contains(s, "://") && !strings.ContainsAny(s[:1], "/~.\\") && !(len(s) >= 2 && s[1] == ':') {
			if got, want := isPathLike(s), pathVarOld(s); got != want {
				t.Errorf("isPathLike(%q) = %v, want %v", s, got, want)
			}
		}
		if got, want := isURL(s), urlOld(s); got != want {
			t.Errorf("isURL(%q) = %v, want %v", s, got, want)
		}
		if got, want := isScriptFile(s), scriptOld(s); got != want {
			t.Errorf("isScriptFile(%q) = %v, want %v", s, got, want)
		}
		if got, want := hasKeyPrefix(s), keyOld(s); got != want {
			t.Errorf("hasKeyPrefix(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestContainsPairMatchesContains(t *testing.T) {
	for _, s := range []string{"", "with a", "with ab; with b", "withwith a", "with with b", "x; with github", "with git"} {
		for _, b := range []string{"", "a", "b", "git", "github", "with b", " b"} {
			if got, want := containsPair(s, "with ", b), strings.Contains(s, "with "+b); got != want {
				t.Errorf("containsPair(%q, %q) = %v, want %v", s, b, got, want)
			}
		}
	}
}

func TestSortFactorsIsStableByRank(t *testing.T) {
	sev := []string{Critical, High, Medium, Low, "unknown"}
	x := uint32(7)
	for n := 0; n <= 20; n++ {
		for round := 0; round < 20; round++ {
			fs := make([]Factor, n)
			for i := range fs {
				x = x*1664525 + 1013904223
				fs[i] = Factor{ID: strings.Repeat("x", i), Severity: sev[int(x>>8)%len(sev)]}
			}
			want := slices.Clone(fs)
			slices.SortStableFunc(want, func(a, b Factor) int { return severityRank[a.Severity] - severityRank[b.Severity] })
			sortFactors(fs)
			if !slices.Equal(fs, want) {
				t.Fatalf("sortFactors = %v, want %v", fs, want)
			}
		}
	}
}
