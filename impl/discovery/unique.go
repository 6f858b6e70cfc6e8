package discovery

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/impl/redact"
)

// maxLabel bounds the part of a qualified name that tells locations apart.
const maxLabel = 60

// UniqueNames returns the servers named so that each name identifies one
// server in a report: the mcpwarden server keeps one row per agent and
// server name, and refuses a report that names two servers alike, while one
// machine often has the same name in several clients.
//
// A name that only one server has is kept as it is. Servers sharing a name
// are qualified with their client, "github (vscode)"; several of one client,
// found in different files or projects, also get what tells their locations
// apart, "github (vscode, webapp)", or where nothing does, their position
// among them, "github (vscode, 2)". A qualified name that is still taken
// gets a number. Order and every other field are kept; the result is a new
// slice, never nil.
func UniqueNames(servers []Server) []Server {
	out := make([]Server, len(servers))
	copy(out, servers)

	count := map[string]int{}
	for _, s := range out {
		count[s.ServerName]++
	}
	// Names that do not collide are never changed, so they are taken first.
	taken := map[string]bool{}
	for _, s := range out {
		if count[s.ServerName] == 1 {
			taken[s.ServerName] = true
		}
	}

	type key struct{ name, client string }
	groups := map[key][]int{}
	var order []key
	for i, s := range out {
		if count[s.ServerName] < 2 {
			continue
		}
		k := key{s.ServerName, s.Client}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}

	parts := make(map[int][]string)
	for _, k := range order {
		idx := groups[k]
		var labels []string
		if len(idx) > 1 {
			locs := make([]string, len(idx))
			for j, i := range idx {
				locs[j] = location(out[i])
			}
			labels = distinguish(locs)
		}
		for j, i := range idx {
			var p []string
			if k.client != "" {
				p = append(p, k.client)
			}
			if labels != nil {
				p = append(p, labels[j])
			}
			parts[i] = p
		}
	}

	for i := range out {
		p, ok := parts[i]
		if !ok {
			continue
		}
		name := qualify(out[i].ServerName, p)
		for n := 2; taken[name]; n++ {
			name = qualify(out[i].ServerName, append(p[:len(p):len(p)], strconv.Itoa(n)))
		}
		taken[name] = true
		out[i].ServerName = name
	}
	return out
}

// location is where a server was found: the project a shared file lists it
// under, or else its file.
func location(s Server) string {
	if s.project != "" {
		return s.project
	}
	return s.ConfigPath
}

// qualify appends " (part, part)" to name, shortening name so that the
// result fits the report's limit on names.
func qualify(name string, parts []string) string {
	if len(parts) == 0 {
		return name
	}
	suffix := " (" + strings.Join(parts, ", ") + ")"
	room := maxName - utf8.RuneCountInString(suffix)
	return truncate(name, max(room, 1)) + suffix
}

// distinguish returns for each location a short label that differs from the
// others': the last path element where the paths differ ("webapp" for
// ~/src/webapp/.vscode/mcp.json beside ~/src/api/.vscode/mcp.json), or all
// of the differing part, or failing both the positions "1", "2"...
func distinguish(locs []string) []string {
	elems := make([][]string, len(locs))
	shortest := -1
	for i, l := range locs {
		elems[i] = strings.FieldsFunc(l, func(r rune) bool { return r == '/' || r == '\\' })
		if shortest < 0 || len(elems[i]) < shortest {
			shortest = len(elems[i])
		}
	}
	same := func(at func(e []string) string) bool {
		for _, e := range elems[1:] {
			if at(e) != at(elems[0]) {
				return false
			}
		}
		return true
	}
	prefix := 0
	for prefix < shortest && same(func(e []string) string { return e[prefix] }) {
		prefix++
	}
	suffix := 0
	for prefix+suffix < shortest && same(func(e []string) string { return e[len(e)-1-suffix] }) {
		suffix++
	}
	middles := make([][]string, len(elems))
	for i, e := range elems {
		middles[i] = e[prefix : len(e)-suffix]
	}

	last := make([]string, len(locs))
	whole := make([]string, len(locs))
	for i, m := range middles {
		if len(m) > 0 {
			last[i] = label(m[len(m)-1])
			whole[i] = label(strings.Join(m, "/"))
		}
	}
	if distinct(last) {
		return last
	}
	if distinct(whole) {
		return whole
	}
	pos := make([]string, len(locs))
	for i := range pos {
		pos[i] = strconv.Itoa(i + 1)
	}
	return pos
}

// label shortens a path part for a name, keeping its end, and keeps out
// secrets and the characters that would confuse the qualified name.
func label(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '(', ')', ',':
			return '_'
		}
		return r
	}, redact.Command(s))
	if r := []rune(s); len(r) > maxLabel {
		s = "…" + string(r[len(r)-maxLabel+1:])
	}
	return s
}

// distinct reports whether every label is set and no two are equal.
func distinct(labels []string) bool {
	seen := make(map[string]bool, len(labels))
	for _, l := range labels {
		if l == "" || seen[l] {
			return false
		}
		seen[l] = true
	}
	return true
}
