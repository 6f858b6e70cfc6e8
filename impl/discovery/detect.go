package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcpwarden/mcpwarden/impl/redact"
)

// ParseConfig reads one file without being told which client wrote it, and returns its servers
// as an agent that found only this file would report them: secrets redacted and names unique
// (UniqueNames). It reads
//
//   - a client's configuration, as the clients whose file paths end as this path does read it
//     (the longest ending wins; when several clients share it, an entry that two of them read
//     alike is one server). A file no client's path ends like is read with every client's keys,
//     and its servers name no client;
//   - a single server entry, {"command": ..., "args": [...]} or {"url": ...}, named after the
//     file;
//   - a report body, {"servers": [{"server_name": ...}, ...]}, as POST /mcp/report takes and
//     `mcpwarden-agent scan --json` prints.
//
// Servers that could be read are returned even when err reports a problem with the rest of the
// file. The error's text holds no secret a decoder quoted from the file.
func ParseConfig(file string) ([]Server, error) {
	servers, err := parseConfig(file)
	if err != nil {
		err = errors.New(safeError(err))
	}
	return servers, err
}

func parseConfig(file string) ([]Server, error) {
	data, err := readLimited(file)
	if err != nil {
		return nil, err
	}
	doc, err := decodeFile(data, file, formatByExt(file))
	if err != nil {
		return nil, err
	}
	if entries, ok := doc["servers"].([]any); ok && isReportBody(entries) {
		servers, err := reportServers(entries)
		return UniqueNames(servers), err
	}
	readers := readersOf(file)
	var keys []string
	for _, r := range readers {
		keys = append(keys, r.src.Keys...)
	}
	if !hasServerKey(doc, keys) && looksLikeServer(doc) {
		name := strings.TrimSuffix(path.Base(filepath.ToSlash(file)), path.Ext(file))
		s := normalize(name, doc, "")
		s.ConfigPath = truncate(file, maxPath)
		return []Server{s}, nil
	}
	var servers []Server
	var errs []error
	seen := map[string]bool{}
	for _, r := range readers {
		found, err := serversIn(doc, r.src, r.client, file)
		if err != nil && !slices.ContainsFunc(errs, func(e error) bool { return e.Error() == err.Error() }) {
			errs = append(errs, err)
		}
		for _, s := range found {
			// The scan keeps one of a file's servers that a client lists twice; here clients
			// sharing the file also read its entries alike, whatever they call the transport.
			k := s
			k.Client, k.Transport = "", ""
			b, _ := json.Marshal(k)
			key := s.project + "\x00" + string(b)
			if !seen[key] {
				seen[key] = true
				servers = append(servers, s)
			}
		}
	}
	return UniqueNames(servers), errors.Join(errs...)
}

// reader is a client's way of reading a file.
type reader struct {
	client string
	src    Source
}

// readersOf picks the clients whose file paths end as file does, each with its sources that
// match best (their keys merged). When none does, one reader takes every client's keys.
func readersOf(file string) []reader {
	elems := pathElems(file)
	best := 0
	var out []reader
	for _, c := range clientTable.Clients {
		score := 0
		var src Source
		for _, s := range c.Sources {
			sc := 0
			for _, osName := range []string{"linux", "darwin", "windows"} {
				for _, p := range s.patterns(osName) {
					sc = max(sc, endingScore(patternElems(p), elems))
				}
			}
			switch {
			case sc > score:
				score, src = sc, s
			case sc == score && sc > 0:
				src.Keys = dedupeStrings(append(slices.Clip(src.Keys), s.Keys...))
			}
		}
		switch {
		case score == 0 || score < best:
		case score > best:
			best, out = score, []reader{{c.ID, src}}
		default:
			out = append(out, reader{c.ID, src})
		}
	}
	if best > 0 {
		return out
	}
	var all Source
	for _, c := range clientTable.Clients {
		for _, s := range c.Sources {
			all.Keys = append(all.Keys, s.Keys...)
		}
	}
	all.Keys = dedupeStrings(all.Keys)
	return []reader{{"", all}}
}

// pathElems are a path's elements, lower case (Windows paths ignore case), on any OS's
// separators; an absolute path is made so where possible, for more elements to match.
func pathElems(file string) []string {
	if abs, err := filepath.Abs(file); err == nil {
		file = abs
	}
	return strings.FieldsFunc(strings.ToLower(file), func(r rune) bool { return r == '/' || r == '\\' })
}

// patternElems are a file pattern's elements, lower case, without the home or variable it
// starts from (~, %APPDATA%, $CODEX_HOME), which match wherever the file is.
func patternElems(p string) []string {
	elems := strings.FieldsFunc(strings.ToLower(p), func(r rune) bool { return r == '/' })
	if len(elems) > 0 && (elems[0] == "~" || strings.HasPrefix(elems[0], "%") || strings.HasPrefix(elems[0], "$")) {
		elems = elems[1:]
	}
	return elems
}

// endingScore says how well a pattern matches the end of a path: 4 for each literal element
// matched from the end, and 1 more when the whole pattern matched, so that ".vscode/mcp.json"
// beats "mcp.json", and a whole "mcp.json" beats the end of ".cursor/mcp.json". A glob element
// ("*.json", "profiles/*/") matches without counting, and "**" matches any number of elements.
func endingScore(pat, elems []string) int {
	score := 0
	i, j := len(pat)-1, len(elems)-1
	for ; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if pat[i] == "**" {
			best := score
			for k := j; k >= -1; k-- {
				best = max(best, score+endingScore(pat[:i], elems[:k+1]))
			}
			return best
		}
		if ok, _ := path.Match(pat[i], elems[j]); !ok {
			return score
		}
		if !strings.ContainsAny(pat[i], "*?[") {
			score += 4
		}
	}
	if score > 0 && (i < 0 || i == 0 && pat[0] == "**") {
		score++
	}
	return score
}

// hasServerKey reports whether any of the keys but the top level's finds something in doc.
func hasServerKey(doc map[string]any, keys []string) bool {
	for _, k := range keys {
		if k != "." && len(lookup(doc, strings.Split(k, "."))) > 0 {
			return true
		}
	}
	return false
}

// isReportBody reports whether a "servers" list is a report's: objects with a server_name.
func isReportBody(entries []any) bool {
	for _, e := range entries {
		m, ok := e.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["server_name"].(string); !ok {
			return false
		}
	}
	return len(entries) > 0
}

// reportServers reads a report body's servers, redacting them as discovery redacts what it
// finds: whoever wrote the body may not have.
func reportServers(entries []any) ([]Server, error) {
	b, err := json.Marshal(entries)
	if err != nil {
		return nil, err
	}
	var body []struct {
		Server
		Enabled *bool `json:"enabled"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, fmt.Errorf("report servers: %w", err)
	}
	out := make([]Server, 0, len(body))
	for _, r := range body {
		s := r.Server
		s.Enabled = r.Enabled == nil || *r.Enabled
		s.ServerType = redact.Command(s.ServerType)
		s.Command = redact.Command(s.Command)
		s.Scope = redact.Command(s.Scope)
		s.URL = redact.Command(s.URL)
		s.ConfigPath = redact.Command(s.ConfigPath)
		if len(s.Args) > 0 {
			s.Args = redact.Args(s.Args)
		}
		// Names only: anything after "=" is a value.
		names := make([]string, 0, len(s.EnvVars))
		for _, e := range s.EnvVars {
			name, _, _ := strings.Cut(e, "=")
			if name = strings.TrimSpace(name); name != "" && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		s.EnvVars = names
		clamp(&s)
		out = append(out, s)
	}
	return out, nil
}
