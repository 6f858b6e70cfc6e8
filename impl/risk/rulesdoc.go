package risk

import (
	"fmt"
	"sort"
	"strings"
)

// ruleFamilies groups rule ids by prefix for the documentation, in table order.
var ruleFamilies = []struct{ prefix, title string }{
	{"MCPW-EXEC-", "Execution tricks"},
	{"MCPW-CAP-", "Capabilities (from the catalog)"},
	{"MCPW-FS-", "Filesystem scope"},
	{"MCPW-CRED-", "Credentials"},
	{"MCPW-SC-", "Supply chain"},
	{"MCPW-CTR-", "Containers"},
	{"MCPW-NET-", "Remote servers"},
	{"MCPW-CAT-", "Catalog identity"},
	{"MCPW-COMBO-", "Combinations on one agent"},
}

// RulesMarkdown renders docs/risk-rules.md from the rule table, the scoring
// constants and the catalog. A test keeps the committed file equal to it.
func RulesMarkdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# mcpwarden risk rules\n\n")
	w("<!-- Generated from impl/risk/rules.go and impl/risk/catalog.json by `go generate ./impl/risk`. Do not edit. -->\n\n")
	w("mcpwarden rates each MCP server from its configuration alone (command line, scope, environment variable names, remote URL), ")
	w("without starting it. Every rating is explained by factors; each factor comes from one rule below and quotes the part of the configuration that triggered it.\n\n")

	w("## Score and level\n\n")
	w("Each factor has the weight of its severity:\n\n")
	w("| Severity | Weight |\n|---|---|\n")
	for _, s := range []string{Critical, High, Medium, Low} {
		w("| %s | %d |\n", s, severityWeight[s])
	}
	w("\nA server's score is the weight of its most severe factor plus a tenth of the weight of each other factor, capped at 100: ")
	w("one serious problem dominates, and several problems add up. A server with no factor scores 0.\n\n")
	w("| Level | Score |\n|---|---|\n")
	w("| critical | >= %d, or any critical factor |\n", CriticalScore)
	w("| high | >= %d |\n", HighScore)
	w("| medium | >= %d |\n", MediumScore)
	w("| low | < %d |\n\n", MediumScore)
	w("Each rule fires at most once per server; a second match adds to its evidence. Factors are listed most severe first.\n\n")

	w("## Rules\n\n")
	w("| ID | Severity | Title |\n|---|---|---|\n")
	for _, r := range rules {
		w("| [%s](#%s) | %s | %s |\n", r.ID, strings.ToLower(r.ID), r.Severity, r.Title)
	}
	w("\n")
	for _, fam := range ruleFamilies {
		w("## %s\n\n", fam.title)
		for _, r := range rules {
			if !strings.HasPrefix(r.ID, fam.prefix) {
				continue
			}
			w("### %s\n\n", r.ID)
			w("**%s** — severity **%s**\n\n", r.Title, r.Severity)
			w("- **Triggers:** %s\n", r.Trigger)
			w("- **Why it matters:** %s\n", r.Why)
			w("- **How to fix:** %s\n\n", r.Fix)
		}
	}

	w("## Capability tags\n\n")
	w("| Tag | Meaning | Rule |\n|---|---|---|\n")
	for _, c := range []struct{ tag, meaning, rule string }{
		{CapExec, "runs commands or code on the machine", RuleExec},
		{CapFSRead, "reads local files", RuleFSProject},
		{CapFSWrite, "writes local files", RuleFSProject},
		{CapBrowser, "drives a web browser", RuleBrowser},
		{CapNetworkEgress, "sends data to the network (combined with credentials: an exfiltration path)", RuleToxicCombination},
		{CapUntrustedInput, "reads content written by others", RuleUntrustedInput},
		{CapDBWrite, "modifies databases", RuleDBWrite},
		{CapCloudAdmin, "administers cloud, cluster or hosting resources", RuleCloudAdmin},
		{CapSecrets, "reads a secret store", RuleSecretStore},
		{CapMessaging, "sends email, chat or SMS", RuleMessaging},
	} {
		w("| `%s` | %s | %s |\n", c.tag, c.meaning, c.rule)
	}
	w("\nA catalog entry marked *account write* can change what its credentials open (push code, move money, alter records); ")
	w("credentials given to it raise %s instead of %s.\n\n", RuleCredWrite, RuleCredRead)

	w("## Catalog (%d servers)\n\n", len(catalog.entries))
	w("| ID | Publisher | Packages and endpoints | Capabilities | Notes |\n|---|---|---|---|---|\n")
	for _, e := range catalog.entries {
		var names []string
		for _, p := range e.Packages {
			names = append(names, "`"+p+"`")
		}
		for _, h := range e.Remotes {
			names = append(names, "`https://"+h+"`")
		}
		var notes []string
		if e.Official {
			notes = append(notes, "official reference")
		}
		if e.Archived {
			notes = append(notes, "archived")
		}
		if e.AccountWrite {
			notes = append(notes, "account write")
		}
		w("| %s | %s | %s | %s | %s |\n", e.ID, e.Publisher, strings.Join(names, ", "), strings.Join(e.Capabilities, ", "), strings.Join(notes, ", "))
	}

	w("\n## Known-malicious and known-vulnerable packages\n\n")
	w("| Advisory | Package | Affected | Kind | Summary |\n|---|---|---|---|---|\n")
	advs := Advisories()
	sort.Slice(advs, func(i, j int) bool {
		if advs[i].Package != advs[j].Package {
			return advs[i].Package < advs[j].Package
		}
		return compareVersions(advs[i].Introduced, advs[j].Introduced) < 0
	})
	for _, a := range advs {
		kind := RuleVulnerable
		if a.Malicious {
			kind = FactorMalicious
		}
		affected := ">= " + a.Introduced
		if a.Introduced == "" || a.Introduced == "0" {
			affected = "all"
		}
		if a.Fixed != "" {
			affected += ", < " + a.Fixed
		} else {
			affected += " (no fixed release; unpinned launches are affected)"
		}
		w("| [%s](%s) | `%s` | %s | %s | %s |\n", a.ID, a.Reference, a.Package, affected, kind, a.Summary)
	}
	w("\nEach entry's source is its link. To add or update one, edit `advisories` in `impl/risk/catalog.json`: ")
	w("`id` (the CVE, GHSA or a `MAL-` name for malware), `package` as it is launched (npm or PyPI name, image), ")
	w("`introduced` (`0` for every version: malware and impersonating packages), `fixed` (empty when no fixed release exists, ")
	w("which also flags unpinned launches), `malicious`, a one-line `summary` and the `reference` it was taken from ")
	w("(the advisory database entry, the vendor's advisory or the researchers' write-up). Then run `go generate ./impl/risk` ")
	w("to regenerate this page and `go test ./impl/risk` (the golden file gains a case for each version boundary; review ")
	w("and accept it with `go test ./impl/risk -run TestAssessGolden -update`). A rules or catalog change reaches stored ")
	w("servers at each agent's next report: the report hash includes the server version, so every agent's servers are re-scored.\n")
	return b.String()
}
