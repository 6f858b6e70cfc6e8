package risk

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Capability tags of catalog entries.
const (
	CapExec           = "exec"
	CapFSRead         = "fs-read"
	CapFSWrite        = "fs-write"
	CapBrowser        = "browser"
	CapNetworkEgress  = "network-egress"
	CapUntrustedInput = "untrusted-input"
	CapDBWrite        = "db-write"
	CapCloudAdmin     = "cloud-admin"
	CapSecrets        = "secrets"
	CapMessaging      = "messaging"
)

var knownCapabilities = map[string]bool{
	CapExec: true, CapFSRead: true, CapFSWrite: true, CapBrowser: true, CapNetworkEgress: true,
	CapUntrustedInput: true, CapDBWrite: true, CapCloudAdmin: true, CapSecrets: true, CapMessaging: true,
}

// capSet holds capability tags as bits, so an evaluation needs no map.
type capSet uint16

// numCaps is the number of capability tags.
const numCaps = 10

// capIndex is a known capability's bit number; -1 for an unknown tag.
func capIndex(capability string) int {
	switch capability {
	case CapExec:
		return 0
	case CapFSRead:
		return 1
	case CapFSWrite:
		return 2
	case CapBrowser:
		return 3
	case CapNetworkEgress:
		return 4
	case CapUntrustedInput:
		return 5
	case CapDBWrite:
		return 6
	case CapCloudAdmin:
		return 7
	case CapSecrets:
		return 8
	case CapMessaging:
		return 9
	}
	return -1
}

// capBit is a known capability's bit; 0 for an unknown tag.
func capBit(capability string) capSet {
	if i := capIndex(capability); i >= 0 {
		return 1 << i
	}
	return 0
}

// CatalogEntry describes a known MCP server.
type CatalogEntry struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Publisher    string   `json:"publisher"`
	Packages     []string `json:"packages"`     // npm and PyPI names, images, binaries
	Remotes      []string `json:"remotes"`      // hosts of the publisher's remote endpoints (subdomains match)
	Repository   string   `json:"repository"`   // source repository, matched against git sources
	Capabilities []string `json:"capabilities"` // exec, fs-read, fs-write, browser, ...
	Official     bool     `json:"official"`     // a modelcontextprotocol reference server
	Archived     bool     `json:"archived"`     // moved to servers-archived: no more security fixes
	AccountWrite bool     `json:"account_write"`
	Category     string   `json:"category"`
	Note         string   `json:"note,omitempty"`

	// Built once at load, for assessments: the capabilities as bits and the
	// evidence and detail strings that would otherwise be built per server.
	caps        capSet
	tagEvidence [numCaps]string // "catalog: <id> is tagged <capability>"
	byline      string          // "<name> by <publisher>"
	noteExtra   string          // "<name> is <note>." when Note is set
}

// Has reports whether the entry carries a capability tag.
func (e *CatalogEntry) Has(capability string) bool {
	for _, c := range e.Capabilities {
		if c == capability {
			return true
		}
	}
	return false
}

// Advisory is a known-malicious or known-vulnerable package version range.
type Advisory struct {
	ID         string `json:"id"`
	Package    string `json:"package"`
	Introduced string `json:"introduced"` // first affected version; "0" or "" for all
	Fixed      string `json:"fixed"`      // first fixed version; "" when no fix exists
	Malicious  bool   `json:"malicious"`
	Summary    string `json:"summary"`
	Reference  string `json:"reference"`
}

// affects reports whether a version is in the advisory's range. An unpinned
// launch resolves to the newest release, which is affected only when no fix exists.
func (a Advisory) affects(version string, pinned bool) bool {
	if !pinned {
		return a.Fixed == ""
	}
	if a.Introduced != "" && a.Introduced != "0" && compareVersions(version, a.Introduced) < 0 {
		return false
	}
	return a.Fixed == "" || compareVersions(version, a.Fixed) < 0
}

//go:embed catalog.json
var catalogJSON []byte

type catalogFile struct {
	Servers    []CatalogEntry `json:"servers"`
	Advisories []Advisory     `json:"advisories"`
}

// catalogIndex is built once; assessment only reads it.
type catalogIndex struct {
	entries    []CatalogEntry
	byPackage  map[string]*CatalogEntry
	byRepo     map[string]*CatalogEntry
	remotes    []remoteHost
	advisories map[string][]Advisory
	names      []string // normalised package names, for typosquat checks
}

type remoteHost struct {
	host  string
	entry *CatalogEntry
}

var catalog = mustLoadCatalog(catalogJSON)

func mustLoadCatalog(data []byte) *catalogIndex {
	idx, err := loadCatalog(data)
	if err != nil {
		panic("risk: embedded catalog.json: " + err.Error())
	}
	return idx
}

func loadCatalog(data []byte) (*catalogIndex, error) {
	var f catalogFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	idx := &catalogIndex{
		entries:    f.Servers,
		byPackage:  map[string]*CatalogEntry{},
		byRepo:     map[string]*CatalogEntry{},
		advisories: map[string][]Advisory{},
	}
	repoCount := map[string]int{}
	for i := range idx.entries {
		if r := normaliseRepo(idx.entries[i].Repository); r != "" {
			repoCount[r]++
		}
	}
	ids := map[string]bool{}
	for i := range idx.entries {
		e := &idx.entries[i]
		if e.ID == "" || ids[e.ID] {
			return nil, fmt.Errorf("entry %d: missing or duplicate id %q", i, e.ID)
		}
		ids[e.ID] = true
		if e.Capabilities == nil {
			e.Capabilities = []string{}
		}
		for _, c := range e.Capabilities {
			if !knownCapabilities[c] {
				return nil, fmt.Errorf("%s: unknown capability %q", e.ID, c)
			}
			e.caps |= capBit(c)
			e.tagEvidence[capIndex(c)] = "catalog: " + e.ID + " is tagged " + c
		}
		e.byline = e.Name + " by " + e.Publisher
		if e.Note != "" {
			e.noteExtra = e.Name + " is " + e.Note + "."
		}
		for _, p := range e.Packages {
			n := normalisePackage(p)
			if other, dup := idx.byPackage[n]; dup {
				return nil, fmt.Errorf("package %q in both %s and %s", p, other.ID, e.ID)
			}
			idx.byPackage[n] = e
			idx.names = append(idx.names, n)
		}
		for _, h := range e.Remotes {
			idx.remotes = append(idx.remotes, remoteHost{host: strings.ToLower(h), entry: e})
		}
		// A monorepo shared by many servers says nothing about which one runs.
		if r := normaliseRepo(e.Repository); r != "" && repoCount[r] == 1 {
			idx.byRepo[r] = e
		}
	}
	for _, a := range f.Advisories {
		n := normalisePackage(a.Package)
		idx.advisories[n] = append(idx.advisories[n], a)
	}
	return idx, nil
}

// Catalog returns a copy of the known servers.
func Catalog() []CatalogEntry {
	out := make([]CatalogEntry, len(catalog.entries))
	for i, e := range catalog.entries {
		e.Packages = slices.Clone(e.Packages)
		e.Remotes = slices.Clone(e.Remotes)
		e.Capabilities = slices.Clone(e.Capabilities)
		out[i] = e
	}
	return out
}

// Advisories returns the known-malicious and known-vulnerable package ranges.
func Advisories() []Advisory {
	var out []Advisory
	for _, list := range catalog.advisories {
		out = append(out, list...)
	}
	return out
}

func (idx *catalogIndex) lookupPackage(name string) *CatalogEntry {
	if name == "" {
		return nil
	}
	return idx.byPackage[normalisePackage(name)]
}

func (idx *catalogIndex) lookupRepo(src string) *CatalogEntry {
	if src == "" {
		return nil
	}
	return idx.byRepo[normaliseRepo(src)]
}

// lookupHost matches a host and its subdomains (bindings.mcp.cloudflare.com).
func (idx *catalogIndex) lookupHost(host string) *CatalogEntry {
	host = strings.ToLower(host)
	for _, r := range idx.remotes {
		if hasDomainSuffix(host, r.host) {
			return r.entry
		}
	}
	return nil
}

// hasDomainSuffix reports host == domain or host ending in "."+domain,
// without building "."+domain.
func hasDomainSuffix(host, domain string) bool {
	return strings.HasSuffix(host, domain) && (len(host) == len(domain) || host[len(host)-len(domain)-1] == '.')
}

// nearMiss returns a catalog package name one edit away from name, or "".
func (idx *catalogIndex) nearMiss(name string) string {
	n := normalisePackage(name)
	// Short names sit one edit from many others; only long names are worth it.
	if len(n) < 8 {
		return ""
	}
	for _, known := range idx.names {
		if known != n && withinOneEdit(n, known) {
			return known
		}
	}
	return ""
}

// normalisePackage folds case, PyPI's _/- equivalence, extras and Docker Hub prefixes.
func normalisePackage(p string) string {
	p = strings.ToLower(strings.TrimSpace(p))
	if i := strings.Index(p, "["); i > 0 {
		p = p[:i]
	}
	p = strings.TrimPrefix(p, "docker.io/")
	p = strings.TrimPrefix(p, "index.docker.io/")
	p = strings.TrimPrefix(p, "library/")
	return strings.ReplaceAll(p, "_", "-")
}

// normaliseRepo reduces git+https://github.com/x/y.git#ref to github.com/x/y.
func normaliseRepo(src string) string {
	s := strings.ToLower(strings.TrimSpace(src))
	if s == "" {
		return ""
	}
	s = strings.TrimPrefix(s, "git+")
	if i := strings.Index(s, "#"); i >= 0 {
		s = s[:i]
	}
	for _, p := range []string{"https://", "http://", "ssh://", "git://", "git@", "www."} {
		s = strings.TrimPrefix(s, p)
	}
	if strings.HasPrefix(s, "github:") {
		s = "github.com/" + strings.TrimPrefix(s, "github:")
	}
	s = strings.Replace(s, "github.com:", "github.com/", 1)
	// Drop "@ref" after the repository path and any subdirectory.
	if i := strings.Index(s, "@"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(strings.TrimRight(s, "/"), ".git")
	parts := strings.Split(s, "/")
	if len(parts) > 3 {
		parts = parts[:3]
	}
	return strings.TrimSuffix(strings.Join(parts, "/"), ".git")
}

// withinOneEdit reports a Damerau distance of at most one in linear time.
func withinOneEdit(a, b string) bool {
	la, lb := len(a), len(b)
	if la > lb {
		a, b, la, lb = b, a, lb, la
	}
	if lb-la > 1 {
		return false
	}
	i := 0
	for i < la && a[i] == b[i] {
		i++
	}
	if i == la {
		return true // equal, or b has one extra trailing byte
	}
	if la == lb {
		// substitution, or adjacent transposition
		if a[i+1:] == b[i+1:] {
			return true
		}
		return i+1 < la && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
	}
	return a[i:] == b[i+1:] // insertion into a
}

// compareVersions compares dotted numeric versions ("v1.0.16", "2025.7.1");
// pre-release suffixes are ignored.
func compareVersions(a, b string) int {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func versionParts(v string) []int {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	var out []int
	for _, p := range strings.Split(v, ".") {
		n, _ := strconv.Atoi(p)
		out = append(out, n)
	}
	return out
}
