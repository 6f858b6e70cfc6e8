package discovery

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/mcpwarden/mcpwarden/impl/redact"
)

// normalize turns one server entry, in any client's spelling, into the
// report shape with every secret redacted.
func normalize(name string, m map[string]any, urlTransport string) Server {
	// Continue's config.json nests the launch details under "transport".
	if t, ok := m["transport"].(map[string]any); ok {
		merged := map[string]any{}
		for k, v := range t {
			merged[k] = v
		}
		for k, v := range m {
			if k != "transport" {
				merged[k] = v
			}
		}
		m = merged
	}

	var argv []string
	envNames := map[string]bool{}
	addEnv := func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, v := range t {
				if s, ok := v.(string); ok && redact.PasswordlessURL(s) {
					k += redact.NoPasswordSuffix
				}
				envNames[k] = true
			}
		case []any:
			// Lists of names (Goose env_keys, Codex env_vars) or NAME=value.
			for _, x := range t {
				if s, ok := x.(string); ok {
					k, _, _ := strings.Cut(s, "=")
					envNames[k] = true
				}
			}
		}
	}

	switch c := m["command"].(type) {
	case string:
		argv = append(argv, c)
	case []any:
		argv = append(argv, strs(c)...)
	case map[string]any:
		// Zed's older shape: "command": {"path", "args", "env"}.
		if p, ok := c["path"].(string); ok {
			argv = append(argv, p)
		}
		argv = append(argv, strs(asList(c["args"]))...)
		addEnv(c["env"])
	}
	if len(argv) == 0 {
		if c, ok := m["cmd"].(string); ok { // Goose
			argv = append(argv, c)
		}
	}
	if len(argv) > 0 {
		argv = append(argv, strs(asList(m["args"]))...)
	}
	for _, k := range []string{"env", "environment", "envs", "env_keys", "env_vars"} {
		addEnv(m[k])
	}
	// Codex names the variables that hold a remote server's credentials.
	if v, ok := m["bearer_token_env_var"].(string); ok {
		envNames[v] = true
	}
	if h, ok := m["env_http_headers"].(map[string]any); ok {
		for _, v := range h {
			if s, ok := v.(string); ok {
				envNames[s] = true
			}
		}
	}
	delete(envNames, "")

	rawURL := firstString(m, "url", "serverUrl", "serverURL", "httpUrl", "uri")
	typ := firstString(m, "type", "transport")

	s := Server{
		ServerName: redact.Command(name),
		EnvVars:    make([]string, 0, len(envNames)),
		Enabled:    enabled(m),
	}
	for k := range envNames {
		s.EnvVars = append(s.EnvVars, k)
	}
	sort.Strings(s.EnvVars)

	switch {
	case len(argv) > 0 && argv[0] != "":
		s.Transport = "stdio"
		s.Args = redact.Args(argv)
		s.Command = strings.Join(s.Args, " ")
		s.ServerType, s.Scope = identify(argv)
	case rawURL != "":
		s.URL = redact.Command(rawURL)
		s.Command = s.URL
		s.Transport = remoteTransport(typ, rawURL, m["httpUrl"] != nil, urlTransport)
		if u, err := url.Parse(rawURL); err == nil {
			s.ServerType = strings.ToLower(u.Host)
		}
	default:
		// Servers the client provides itself (Goose built-ins, Zed
		// extensions) have no transport the report can name; the name is
		// all that identifies them.
		s.ServerType = s.ServerName
	}
	s.ServerType = redact.Command(s.ServerType)
	clamp(&s)
	return s
}

// Limits of the report body (openapi.yaml ReportedServer); longer values
// are cut rather than have the whole report refused.
const (
	maxName    = 200
	maxType    = 500
	maxCommand = 8192
	maxArgs    = 1000
	maxPath    = 4096
	maxEnvVars = 200
	maxEnvName = 256
)

func clamp(s *Server) {
	s.ServerName = truncate(s.ServerName, maxName)
	s.ServerType = truncate(s.ServerType, maxType)
	s.Command = truncate(s.Command, maxCommand)
	if len(s.Args) > maxArgs {
		s.Args = s.Args[:maxArgs]
	}
	for i, a := range s.Args {
		s.Args[i] = truncate(a, maxCommand)
	}
	s.Scope = truncate(s.Scope, maxPath)
	s.URL = truncate(s.URL, maxPath)
	if len(s.EnvVars) > maxEnvVars {
		s.EnvVars = s.EnvVars[:maxEnvVars]
	}
	for i, e := range s.EnvVars {
		s.EnvVars[i] = truncate(e, maxEnvName)
	}
}

// truncate cuts s to at most n characters (the schema counts characters).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

func remoteTransport(typ, rawURL string, httpURLField bool, urlTransport string) string {
	switch strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(typ)) {
	case "sse":
		return "sse"
	}
	// "http", "streamable-http", OpenCode's "remote" and anything unknown:
	// the report knows stdio, sse and http.
	if typ == "" && !httpURLField {
		if urlTransport != "" {
			return urlTransport
		}
		if u, err := url.Parse(rawURL); err == nil && strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/sse") {
			return "sse"
		}
	}
	return "http"
}

func enabled(m map[string]any) bool {
	if d, ok := m["disabled"].(bool); ok && d {
		return false
	}
	if e, ok := m["enabled"].(bool); ok {
		return e
	}
	return true
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func asList(v any) []any {
	switch t := v.(type) {
	case []any:
		return t
	case string:
		return []any{t}
	}
	return nil
}

func strs(list []any) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		switch t := v.(type) {
		case string:
			out = append(out, t)
		case json.Number:
			out = append(out, t.String())
		case nil:
		default:
			out = append(out, fmt.Sprint(t))
		}
	}
	return out
}

// program is an executable's name without folder or Windows extension.
func program(p string) string {
	base := path.Base(strings.ReplaceAll(p, `\`, "/"))
	lower := strings.ToLower(base)
	for _, ext := range []string{".exe", ".cmd", ".bat", ".ps1"} {
		if strings.HasSuffix(lower, ext) {
			return lower[:len(lower)-len(ext)]
		}
	}
	return lower
}

// identify names what a command line runs (the package, image, module or
// script) and, for filesystem servers, the paths it is given.
func identify(argv []string) (serverType, scope string) {
	argv = unwrap(argv)
	if len(argv) == 0 {
		return "", ""
	}
	serverType, rest := launched(argv)
	if isFilesystemType(serverType) {
		var paths []string
		if p := program(argv[0]); p == "docker" || p == "podman" {
			paths = mounts(argv)
		} else {
			for _, a := range rest {
				if _, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "-") {
					a = v
				}
				if looksLikePath(a) {
					paths = append(paths, a)
				}
			}
		}
		scope = strings.Join(paths, " ")
	}
	return serverType, scope
}

// unwrap removes shells and launchers that only start the real command:
// Windows configs commonly say "cmd /c npx ...".
func unwrap(argv []string) []string {
	for len(argv) > 0 {
		switch program(argv[0]) {
		case "cmd":
			i := indexFold(argv, "/c", "/k")
			if i < 0 {
				return argv
			}
			argv = fieldsIfOne(argv[i+1:])
		case "sh", "bash", "zsh", "dash":
			i := indexFold(argv, "-c", "-lc", "-ic")
			if i < 0 || i+1 >= len(argv) {
				return argv
			}
			argv = strings.Fields(argv[i+1])
		case "powershell", "pwsh":
			i := indexFold(argv, "-command", "-c")
			if i < 0 {
				return argv
			}
			argv = fieldsIfOne(argv[i+1:])
		case "env":
			j := 1
			for j < len(argv) && (strings.Contains(argv[j], "=") || strings.HasPrefix(argv[j], "-")) {
				j++
			}
			argv = argv[j:]
		case "wsl", "wsl.exe":
			j := 1
			for j < len(argv) && strings.HasPrefix(argv[j], "-") {
				if argv[j] == "--" || argv[j] == "-e" || argv[j] == "--exec" {
					j++
					break
				}
				if argv[j] == "-d" || argv[j] == "--distribution" || argv[j] == "-u" || argv[j] == "--user" || argv[j] == "--cd" {
					j++
				}
				j++
			}
			argv = argv[min(j, len(argv)):]
		default:
			return argv
		}
	}
	return argv
}

func indexFold(argv []string, names ...string) int {
	for i, a := range argv {
		for _, n := range names {
			if strings.EqualFold(a, n) {
				return i
			}
		}
	}
	return -1
}

func fieldsIfOne(args []string) []string {
	if len(args) == 1 {
		return strings.Fields(args[0])
	}
	return args
}

// launched returns what argv runs and the arguments given to it.
func launched(argv []string) (string, []string) {
	prog := program(argv[0])
	args := argv[1:]
	sub := func(names ...string) bool {
		if len(args) > 0 && contains(names, args[0]) {
			args = args[1:]
			return true
		}
		return false
	}
	switch prog {
	case "npx", "bunx", "pnpx", "dnx":
		return npmPackage(args)
	case "dotnet":
		if sub("tool") && sub("run", "exec") {
			return npmPackage(args)
		}
		if sub("dnx") {
			return npmPackage(args)
		}
	case "npm", "pnpm", "yarn", "bun":
		if sub("exec", "x", "dlx") {
			return npmPackage(args)
		}
		if prog == "bun" {
			sub("run")
			return script(args, nil)
		}
	case "uvx", "pipx":
		if prog == "pipx" && !sub("run") {
			break
		}
		return pythonTool(args)
	case "uv":
		i := 0
		for i < len(args) && strings.HasPrefix(args[i], "-") {
			if args[i] == "--directory" || args[i] == "--project" {
				i++
			}
			i++
		}
		args = args[min(i, len(args)):]
		if sub("tool") {
			sub("run")
			return pythonTool(args)
		}
		if sub("run") {
			return script(args, map[string]bool{"--with": true, "--directory": true, "--project": true, "--python": true, "-p": true, "--env-file": true, "--from": true})
		}
	case "docker", "podman", "nerdctl":
		if sub("run") {
			img, rest := dockerImage(args)
			if img != "" {
				return img, rest
			}
		}
	case "go":
		if sub("run") {
			return script(args, nil)
		}
	case "deno":
		sub("run")
		t, rest := script(args, map[string]bool{"--config": true, "-c": true, "--import-map": true, "--env-file": true})
		t = strings.TrimPrefix(strings.TrimPrefix(t, "npm:"), "jsr:")
		return stripVersion(t), rest
	case "java":
		if i := indexFold(args, "-jar"); i >= 0 && i+1 < len(args) {
			return args[i+1], args[i+2:]
		}
	}
	if strings.HasPrefix(prog, "python") {
		if i := indexFold(args, "-m"); i >= 0 && i+1 < len(args) {
			return args[i+1], args[i+2:]
		}
		return script(args, nil)
	}
	switch prog {
	case "node", "nodejs", "tsx", "ts-node", "ruby", "php", "perl":
		return script(args, map[string]bool{"-r": true, "--require": true, "--import": true, "--loader": true, "--env-file": true})
	}
	return prog, args
}

// npmPackage finds the package npx runs: "-p pkg" names it, otherwise the
// first positional argument does.
func npmPackage(args []string) (string, []string) {
	valued := map[string]bool{"--registry": true, "--cache": true, "--userconfig": true, "--node-options": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-p" || a == "--package":
			if i+1 < len(args) {
				return stripVersion(args[i+1]), args[i+2:]
			}
		case strings.HasPrefix(a, "--package="):
			return stripVersion(strings.TrimPrefix(a, "--package=")), args[i+1:]
		case a == "--":
			continue
		case valued[a]:
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return stripVersion(a), args[i+1:]
		}
	}
	return "npx", nil
}

// pythonToolFlags are uvx/pipx options that take a value.
var pythonToolFlags = map[string]bool{"--from": true, "--with": true, "--python": true, "-p": true, "--index-url": true,
	"--extra-index-url": true, "--with-requirements": true, "--with-editable": true, "--directory": true, "--spec": true}

func pythonTool(args []string) (string, []string) {
	if pkg, rest := script(args, pythonToolFlags); pkg != "" {
		return pkg, rest
	}
	return "uvx", nil
}

// script returns the first positional argument: a script path, module or
// package, kept as written.
func script(args []string, valued map[string]bool) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case valued[a]:
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return stripVersion(a), args[i+1:]
		}
	}
	return "", nil
}

var versionSuffix = regexp.MustCompile(`(==|>=|~=)[^@]*$`)

// stripVersion drops a version pin so that the same package reports the
// same type: "@scope/pkg@1.2.3" and "pkg==0.4" become "@scope/pkg", "pkg".
func stripVersion(p string) string {
	if looksLikePath(p) || strings.Contains(p, "://") {
		return p
	}
	if i := strings.Index(p, "["); i > 0 { // python extras
		p = p[:i]
	}
	p = versionSuffix.ReplaceAllString(p, "")
	if i := strings.LastIndex(p, "@"); i > 0 {
		p = p[:i]
	}
	return p
}

// dockerFlagsWithValue take the next argument as their value.
var dockerFlagsWithValue = map[string]bool{
	"-e": true, "--env": true, "--env-file": true, "-v": true, "--volume": true, "--mount": true,
	"-p": true, "--publish": true, "--name": true, "--network": true, "--net": true, "-w": true,
	"--workdir": true, "-u": true, "--user": true, "--entrypoint": true, "--platform": true,
	"-l": true, "--label": true, "--cpus": true, "-m": true, "--memory": true, "--add-host": true,
	"--cap-add": true, "--cap-drop": true, "--device": true, "--security-opt": true,
	"-h": true, "--hostname": true, "--pull": true, "--restart": true, "--ulimit": true,
	"--tmpfs": true, "--dns": true, "--log-driver": true, "--log-opt": true, "--gpus": true,
	"--runtime": true, "--shm-size": true, "--ipc": true, "--pid": true, "--cidfile": true,
}

func dockerImage(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case dockerFlagsWithValue[a]:
			i++
		case strings.HasPrefix(a, "-"):
		default:
			img := a
			if at := strings.Index(img, "@"); at > 0 {
				img = img[:at]
			}
			if c := strings.LastIndex(img, ":"); c > strings.LastIndex(img, "/") {
				img = img[:c]
			}
			return img, args[i+1:]
		}
	}
	return "", nil
}

// mounts returns the host side of docker bind mounts.
func mounts(argv []string) []string {
	var out []string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		var v string
		switch {
		case (a == "-v" || a == "--volume" || a == "--mount") && i+1 < len(argv):
			v = argv[i+1]
			i++
		case strings.HasPrefix(a, "--volume=") || strings.HasPrefix(a, "--mount="):
			_, v, _ = strings.Cut(a, "=")
		default:
			continue
		}
		if strings.Contains(v, "src=") || strings.Contains(v, "source=") {
			for _, kv := range strings.Split(v, ",") {
				k, val, _ := strings.Cut(kv, "=")
				if k == "src" || k == "source" {
					out = append(out, val)
				}
			}
			continue
		}
		// A Windows drive letter is not the host:container separator.
		skip := 0
		if len(v) > 2 && v[1] == ':' && (v[2] == '\\' || v[2] == '/') {
			skip = 2
		}
		if c := strings.Index(v[skip:], ":"); c >= 0 {
			v = v[:skip+c]
		}
		if looksLikePath(v) {
			out = append(out, v)
		}
	}
	return out
}

func isFilesystemType(t string) bool {
	t = strings.ToLower(t)
	return strings.Contains(t, "filesystem") || strings.Contains(t, "file-system")
}

var windowsPath = regexp.MustCompile(`^[A-Za-z]:[\\/]|^\\\\`)

func looksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || s == "~" || strings.HasPrefix(s, "~/") || s == "." || s == ".." ||
		strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || windowsPath.MatchString(s) ||
		strings.HasPrefix(s, "${") || strings.HasPrefix(s, "$HOME")
}
