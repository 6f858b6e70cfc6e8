// Package discovery finds the MCP servers configured on a machine by
// reading every known client's configuration files, and normalises them
// into the report shape with secrets redacted.
package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
)

// Options says what to scan.
type Options struct {
	// Home is the user's home folder; empty means the current user's.
	Home string
	// OS is how Home is laid out: "linux", "darwin" or "windows"; empty
	// means this machine's.
	OS string
	// ProjectRoots are folders holding projects. Each root and the folders
	// up to ProjectDepth below it are searched for project-scope files.
	ProjectRoots []string
	// ProjectDepth is how many folder levels below a root may be projects;
	// 0 means 2, negative means only the root itself.
	ProjectDepth int
	// AllUsers scans every home under UsersDir as well.
	AllUsers bool
	// UsersDir holds the homes AllUsers scans; the OS default (/home,
	// /Users, C:\Users) under Root when empty.
	UsersDir string
	// Root prefixes system paths (admin-managed files, the users folder),
	// as when a disk image is mounted at Root.
	Root string
	// Live means this machine is being scanned: system paths are read where
	// they are and variables such as $CODEX_HOME are honoured.
	Live bool
	// Getenv reads the environment when Live; nil means os.Getenv.
	Getenv func(string) string
}

// Result is what a scan found.
type Result struct {
	Servers  []Server  `json:"servers"`
	Findings []Finding `json:"findings"`
	// Files are the configuration files that were read.
	Files []string `json:"-"`
	// Watch are every path whose creation or change calls for a new scan.
	Watch []string `json:"-"`
}

// Scan reads the configurations of every client in the table.
func Scan(opts Options) (Result, error) {
	s, err := newScanner(opts)
	if err != nil {
		return Result{}, err
	}
	homes := []string{s.opts.Home}
	if opts.AllUsers {
		more, err := s.userHomes()
		if err != nil {
			return Result{}, err
		}
		homes = appendNew(homes, more...)
	}
	for _, h := range homes {
		s.scanHome(h)
	}
	s.scanManaged()
	s.scanProjects()
	s.res.Watch = dedupeStrings(s.res.Watch)
	// Group by client in table order; within a client, files keep scan order.
	order := map[string]int{}
	for i, c := range clientTable.Clients {
		order[c.ID] = i
	}
	sort.SliceStable(s.res.Servers, func(i, j int) bool {
		return order[s.res.Servers[i].Client] < order[s.res.Servers[j].Client]
	})
	// The report identifies servers by name: names shared by servers of
	// several clients or files are qualified, so that --json prints the
	// body that is sent.
	s.res.Servers = UniqueNames(s.res.Servers)
	if s.res.Findings == nil {
		s.res.Findings = []Finding{}
	}
	return s.res, nil
}

type scanner struct {
	opts     Options
	getenv   func(string) string
	res      Result
	seen     map[string]bool // client + file already parsed
	servers  map[string]bool // client + file + project + server already reported
	recorded []string        // project folders recorded by clients
}

func newScanner(opts Options) (*scanner, error) {
	if opts.OS == "" {
		opts.OS = runtime.GOOS
	}
	switch opts.OS {
	case "linux", "darwin", "windows":
	default:
		return nil, fmt.Errorf("unsupported OS %q: want linux, darwin or windows", opts.OS)
	}
	if opts.Home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("finding the home folder: %w", err)
		}
		opts.Home = h
	}
	getenv := func(string) string { return "" }
	if opts.Live {
		getenv = os.Getenv
		if opts.Getenv != nil {
			getenv = opts.Getenv
		}
	}
	return &scanner{opts: opts, getenv: getenv, seen: map[string]bool{}, servers: map[string]bool{}}, nil
}

func (s *scanner) scanHome(home string) {
	for _, c := range clientTable.Clients {
		for _, src := range c.Sources {
			if src.Scope != "user" {
				continue
			}
			for _, p := range src.patterns(s.opts.OS) {
				for _, file := range s.resolve(s.userPath(home, p)) {
					projects := s.parse(c, src, file)
					for _, pr := range projects {
						s.recorded = append(s.recorded, s.relocate(home, pr))
					}
				}
			}
		}
	}
}

func (s *scanner) scanManaged() {
	for _, c := range clientTable.Clients {
		for _, src := range c.Sources {
			if src.Scope != "managed" {
				continue
			}
			for _, p := range src.patterns(s.opts.OS) {
				if sp := s.systemPath(p); sp != "" {
					for _, file := range s.resolve(sp) {
						s.parse(c, src, file)
					}
				}
			}
		}
	}
}

func (s *scanner) scanProjects() {
	var dirs []string
	for _, r := range s.opts.ProjectRoots {
		dirs = appendNew(dirs, projectDirs(r, s.depth())...)
	}
	dirs = appendNew(dirs, s.recorded...)
	for _, d := range dirs {
		for _, c := range clientTable.Clients {
			for _, src := range c.Sources {
				if src.Scope != "project" {
					continue
				}
				for _, p := range src.patterns(s.opts.OS) {
					for _, file := range s.resolve(filepath.Join(d, filepath.FromSlash(p))) {
						s.parse(c, src, file)
					}
				}
			}
		}
	}
}

func (s *scanner) depth() int {
	switch {
	case s.opts.ProjectDepth == 0:
		return 2
	case s.opts.ProjectDepth < 0:
		return 0
	}
	return s.opts.ProjectDepth
}

// parse reads one file for one client and records its servers, or a
// finding when the file exists but cannot be used.
func (s *scanner) parse(c Client, src Source, file string) []string {
	key := c.ID + "\x00" + file
	if s.seen[key] {
		return nil
	}
	s.seen[key] = true
	servers, projects, err := parseWith(file, c.ID, src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	s.res.Files = appendNew(s.res.Files, file)
	if err != nil {
		s.res.Findings = append(s.res.Findings, Finding{Client: c.ID, Path: file, Error: safeError(err)})
	}
	for _, sv := range servers {
		// A file may list one server twice (under an old and a new key);
		// different servers of the same name are all kept.
		b, _ := json.Marshal(sv)
		k := c.ID + "\x00" + file + "\x00" + sv.project + "\x00" + string(b)
		if s.servers[k] {
			continue
		}
		s.servers[k] = true
		s.res.Servers = append(s.res.Servers, sv)
	}
	return projects
}

// userPath turns a pattern into a path under home, or "" when it does not
// apply (an unset $VAR).
func (s *scanner) userPath(home, p string) string {
	switch {
	case p == "~" || strings.HasPrefix(p, "~/"):
		return filepath.Join(home, filepath.FromSlash(strings.TrimPrefix(p, "~")))
	case strings.HasPrefix(p, "%APPDATA%"):
		return s.winDir(home, "APPDATA", "AppData/Roaming", strings.TrimPrefix(p, "%APPDATA%"))
	case strings.HasPrefix(p, "%LOCALAPPDATA%"):
		return s.winDir(home, "LOCALAPPDATA", "AppData/Local", strings.TrimPrefix(p, "%LOCALAPPDATA%"))
	case strings.HasPrefix(p, "$"):
		name, rest, _ := strings.Cut(p[1:], "/")
		// Only the current user's environment says where its files are.
		if home != s.opts.Home {
			return ""
		}
		if v := s.getenv(name); v != "" {
			return filepath.Join(v, filepath.FromSlash(rest))
		}
		return ""
	}
	return ""
}

func (s *scanner) winDir(home, env, under, rest string) string {
	base := filepath.Join(home, filepath.FromSlash(under))
	if home == s.opts.Home {
		if v := s.getenv(env); v != "" {
			base = v
		}
	}
	return filepath.Join(base, filepath.FromSlash(rest))
}

// systemPath places an admin-managed path: as is on the live machine,
// under Root when one is given, nowhere otherwise, since a home folder
// alone says nothing about the machine's system files.
func (s *scanner) systemPath(p string) string {
	if !s.opts.Live && s.opts.Root == "" {
		return ""
	}
	var win string
	switch {
	case strings.HasPrefix(p, "%PROGRAMFILES%"):
		win, p = "ProgramFiles", "C:/Program Files"+strings.TrimPrefix(p, "%PROGRAMFILES%")
	case strings.HasPrefix(p, "%PROGRAMDATA%"):
		win, p = "ProgramData", "C:/ProgramData"+strings.TrimPrefix(p, "%PROGRAMDATA%")
	}
	if s.opts.Root != "" {
		return filepath.Join(s.opts.Root, filepath.FromSlash(stripDrive(p)))
	}
	if win != "" {
		if v := s.getenv(win); v != "" {
			_, rest, _ := strings.Cut(strings.TrimPrefix(p, "C:/"), "/")
			return filepath.Join(v, filepath.FromSlash(rest))
		}
	}
	return filepath.FromSlash(p)
}

func stripDrive(p string) string {
	if len(p) > 2 && p[1] == ':' {
		return p[2:]
	}
	return p
}

func (s *scanner) userHomes() ([]string, error) {
	dir := s.opts.UsersDir
	if dir == "" {
		switch s.opts.OS {
		case "linux":
			dir = "/home"
		case "darwin":
			dir = "/Users"
		default:
			dir = "C:/Users"
		}
		if s.opts.Root != "" {
			dir = filepath.Join(s.opts.Root, stripDrive(dir))
		} else if !s.opts.Live {
			return nil, errors.New("all users: give the users folder or a root when not scanning this machine")
		}
		dir = filepath.FromSlash(dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing homes: %w", err)
	}
	skip := map[string]bool{"Public": true, "Default": true, "Default User": true, "All Users": true, "Shared": true, "Guest": true, "lost+found": true}
	var homes []string
	for _, e := range entries {
		if e.IsDir() && !skip[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
			homes = append(homes, filepath.Join(dir, e.Name()))
		}
	}
	if s.opts.OS == "linux" {
		root := "/root"
		if s.opts.Root != "" {
			root = filepath.Join(s.opts.Root, "root")
		}
		if st, err := os.Stat(root); err == nil && st.IsDir() {
			homes = append(homes, root)
		}
	}
	return homes, nil
}

var homePrefix = regexp.MustCompile(`^(?:/home/[^/]+|/Users/[^/]+|/root|[A-Za-z]:[\\/]Users[\\/][^\\/]+)(?:[\\/]|$)`)

// relocate maps a project folder recorded on the scanned machine to where
// it is now: under Root, or, when a home was copied or mounted elsewhere,
// under that home.
func (s *scanner) relocate(home, p string) string {
	if s.opts.Live {
		return p
	}
	if m := homePrefix.FindString(p); m != "" {
		rest := strings.ReplaceAll(p[len(m):], `\`, "/")
		return filepath.Join(home, filepath.FromSlash(rest))
	}
	if s.opts.Root != "" {
		return filepath.Join(s.opts.Root, filepath.FromSlash(stripDrive(strings.ReplaceAll(p, `\`, "/"))))
	}
	return p
}

// resolve expands a glob to the existing files it names, and records what
// to watch: the path itself, or for a glob the folder that holds matches.
func (s *scanner) resolve(p string) []string {
	if p == "" {
		return nil
	}
	if !strings.Contains(p, "*") {
		s.res.Watch = append(s.res.Watch, p)
		return []string{p}
	}
	if i := strings.Index(p, string(filepath.Separator)+"**"+string(filepath.Separator)); i >= 0 {
		base, tail := p[:i], p[i+4:]
		s.res.Watch = append(s.res.Watch, base)
		return walkMatch(base, tail, 8)
	}
	s.res.Watch = append(s.res.Watch, filepath.Dir(p))
	matches, _ := filepath.Glob(p)
	sort.Strings(matches)
	return matches
}

// walkMatch finds files under base whose trailing path matches tail.
func walkMatch(base, tail string, maxDepth int) []string {
	var out []string
	n := strings.Count(tail, string(filepath.Separator)) + 1
	_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		if d.IsDir() {
			if rel != "." && (strings.Count(rel, string(filepath.Separator)) >= maxDepth || d.Name() == "node_modules" || d.Name() == ".git") {
				return filepath.SkipDir
			}
			return nil
		}
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) < n {
			return nil
		}
		if ok, _ := filepath.Match(tail, filepath.Join(parts[len(parts)-n:]...)); ok {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// projectDirs returns root and the folders below it, to depth, that may be
// projects. Hidden folders and dependency trees are not projects.
func projectDirs(root string, depth int) []string {
	out := []string{root}
	if depth <= 0 {
		return out
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return out
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") || name == "node_modules" || name == "vendor" || name == "target" {
			continue
		}
		out = append(out, projectDirs(filepath.Join(root, name), depth-1)...)
	}
	return out
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}
