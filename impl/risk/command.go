package risk

import (
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

// Command is a server launch command taken apart: which ecosystem the code
// comes from, which package and version, and what the server is given.
type Command struct {
	Runner    string // launcher, normalised: "npx", "uvx", "uv", "docker", "node", "python", "deno"...; "" for a URL
	Ecosystem string // "npm", "pypi", "docker", "jsr", "go", "local", "binary", "remote" or ""
	Package   string // package or image without its version; "" for a local script
	Spec      string // the package as written, version included, for evidence
	Version   string // "1.2.3", "latest", "^1.0", an image tag or digest; "" when none is given
	Tool      string // the executable run from the package when it differs (npx -p, uvx --from)
	Source    string // git, tarball or URL source the code is fetched from
	Script    string // local script or binary the runner starts
	Fetched   bool   // the runner downloads the package at launch (npx, uvx, pipx run, docker pull)
	Via       string // proxy package that launches the real server (supergateway, @smithery/cli)
	Args      []string
	Paths     []string // filesystem paths among arguments, flag values, mounts and permissions
	URLs      []string // http(s) URLs among the arguments
	EnvNames  []string // variables set on the command line (docker -e, env NAME=...)
	EnvAssign []string // NAME=value assignments on the command line, checked for live secrets
	Wrappers  []string // shells peeled off: "bash -c", "cmd /c", "wsl"
	Fetcher   string   // "curl … | sh" style segment when a wrapper downloads and runs a script
	Elevation string   // "sudo", "doas", "runas"...: the server is started with root or administrator rights
	Decoder   string   // "base64 -d | sh" style segment, or an encoded PowerShell command: a hidden payload is run
	Inline    string   // interpreter code written in the configuration: "python -c …", "node -e …", "deno eval …"
	TempExec  string   // the program or script run, when it sits in a temporary or world-writable folder
	Container Container
	Deno      []string // deno permission flags as written
}

// Container holds the docker/podman run options that widen what a container can reach.
type Container struct {
	Privileged  bool
	HostNetwork bool
	HostPID     bool
	CapAdd      []string
	SecurityOpt []string
	Mounts      []Mount
}

// Mount is a bind mount; Host is the path on the machine.
type Mount struct {
	Host, Target string
	ReadOnly     bool
}

// Pinned reports whether the package is fixed to one version, so that a
// republished package cannot change what runs.
func (c Command) Pinned() bool {
	v := c.Version
	if v == "" || strings.EqualFold(v, "latest") {
		return false
	}
	if strings.HasPrefix(v, "sha256:") {
		return true
	}
	// Ranges (^1.2, ~1.2, >=1, 1.x, *) and dist-tags (next, beta) float.
	if strings.ContainsAny(v, "^~<>=*| ") || strings.Contains(v, ".x") {
		return false
	}
	return v[0] >= '0' && v[0] <= '9' || v[0] == 'v' && len(v) > 1 && v[1] >= '0' && v[1] <= '9'
}

// ParseCommand parses a whole command line as stored in a report: the
// launcher, then its arguments, space-separated with simple shell quoting.
func ParseCommand(line string) Command {
	var c Command
	line = strings.TrimSpace(line)
	if isURL(line) && !strings.ContainsAny(line, " \t") {
		c.Ecosystem = "remote"
		c.URLs = []string{line}
		c.Package = hostOf(line)
		return c
	}
	parseTokens(&c, splitArgs(line, false), 0, false)
	return c
}

// ParseArgs parses a server's argument vector as its client configures it, program first. It
// reads it as ParseCommand reads a command line, but takes each argument whole: one that holds
// a space (a folder "/home/me/my notes") stays one argument, where the command line joined from
// the vector cannot tell it from two.
func ParseArgs(args []string) Command {
	var c Command
	if len(args) == 1 && isURL(args[0]) && !strings.ContainsAny(args[0], " \t") {
		c.Ecosystem = "remote"
		c.URLs = []string{args[0]}
		c.Package = hostOf(args[0])
		return c
	}
	// The parse keeps slices of args: clipped, none can grow into the caller's array.
	parseTokens(&c, args[:len(args):len(args)], 0, true)
	return c
}

// maxDepth bounds wrapper recursion (bash -c "cmd /c bash -c ...").
const maxDepth = 6

// parseTokens takes a command apart. exact says that toks is an argument vector as configured
// rather than the words of a command line (see scriptOf).
func parseTokens(c *Command, toks []string, depth int, exact bool) {
	// Leading env assignments: "env A=1 npx ..." or "A=1 npx ...".
	var prog string
	for len(toks) > 0 {
		t := toks[0]
		prog = progName(t)
		if prog == "env" {
			c.Wrappers = append(c.Wrappers, "env")
			toks = toks[1:]
			for len(toks) > 0 && strings.HasPrefix(toks[0], "-") {
				toks = toks[1:]
			}
			continue
		}
		if isAssignment(t) {
			addEnvAssign(c, t)
			toks = toks[1:]
			continue
		}
		break
	}
	if len(toks) == 0 {
		return
	}
	rest := toks[1:]
	if depth < maxDepth {
		switch prog {
		case "cmd":
			if i := indexFold(rest, "/c", "/k"); i >= 0 {
				c.Wrappers = append(c.Wrappers, "cmd "+strings.ToLower(rest[i]))
				parseScript(c, scriptOf(rest[i+1:], exact), depth+1)
				return
			}
		case "bash", "sh", "zsh", "dash", "fish", "ksh":
			for i, t := range rest {
				if len(t) > 1 && t[0] == '-' && t[1] != '-' && strings.Contains(t, "c") {
					c.Wrappers = append(c.Wrappers, prog+" "+t)
					parseScript(c, scriptOf(rest[i+1:], exact), depth+1)
					return
				}
				if !strings.HasPrefix(t, "-") {
					break
				}
			}
		case "sudo", "doas", "pkexec", "gsudo", "su", "runas":
			if elevate(c, prog, rest, depth, exact) {
				return
			}
		case "powershell", "pwsh":
			for i, t := range rest {
				lt := strings.ToLower(t)
				if encodedCommandFlag(lt) && i+1 < len(rest) {
					c.Wrappers = append(c.Wrappers, prog+" "+t)
					c.Decoder = prog + " " + t + " " + clip(rest[i+1], 40)
					return
				}
				if lt == "-command" || lt == "-c" {
					c.Wrappers = append(c.Wrappers, prog+" "+t)
					parseScript(c, scriptOf(rest[i+1:], exact), depth+1)
					return
				}
			}
		case "wsl":
			c.Wrappers = append(c.Wrappers, "wsl")
			for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
				switch rest[0] {
				case "-d", "--distribution", "-u", "--user", "--cd":
					if len(rest) > 1 {
						rest = rest[1:]
					}
				}
				rest = rest[1:]
			}
			parseTokens(c, rest, depth+1, exact)
			return
		}
	}
	c.Runner = prog
	switch prog {
	case "npx", "bunx", "pnpx":
		parseNpx(c, rest)
	case "npm", "pnpm", "yarn", "bun":
		if len(rest) > 0 && (rest[0] == "dlx" || rest[0] == "exec" || rest[0] == "x") {
			c.Runner = prog + " " + rest[0]
			parseNpx(c, rest[1:])
		} else if prog == "bun" || len(rest) > 0 && rest[0] == "run" {
			parseScriptRunner(c, rest)
		} else {
			c.Ecosystem = "npm"
			c.Args = rest
		}
	case "uvx":
		parsePyRunner(c, rest)
	case "uv":
		parseUv(c, rest)
	case "pipx":
		if len(rest) > 0 && rest[0] == "run" {
			c.Runner = "pipx run"
			parsePyRunner(c, rest[1:])
		} else {
			c.Args = rest
		}
	case "python", "python3", "py", "pythonw":
		parsePython(c, rest)
	case "node", "nodejs", "tsx", "ts-node", "bash", "sh", "zsh", "dash", "fish", "ksh", "powershell", "pwsh":
		if !parseInline(c, prog, rest, "-e", "--eval", "-p", "--print") {
			parseScriptRunner(c, rest)
		}
	case "perl", "ruby":
		if !parseInline(c, prog, rest, "-e", "-E") {
			parseScriptRunner(c, rest)
		}
	case "php":
		if !parseInline(c, prog, rest, "-r") {
			parseScriptRunner(c, rest)
		}
	case "deno":
		if len(rest) > 0 && rest[0] == "eval" {
			c.Ecosystem = "local"
			c.Script = "eval"
			c.Inline = "deno eval " + strings.Join(rest[1:], " ")
		} else {
			parseDeno(c, rest)
		}
	case "docker", "podman", "nerdctl":
		parseDocker(c, rest)
	case "go":
		if len(rest) > 1 && rest[0] == "run" {
			c.Ecosystem = "go"
			c.Fetched = strings.Contains(rest[1], "@")
			setSpec(c, rest[1], "@")
			collectArgs(c, rest[2:])
		} else {
			c.Args = rest
		}
	default:
		if isScriptFile(toks[0]) {
			c.Runner = ""
			c.Ecosystem = "local"
			c.Script = toks[0]
		} else {
			c.Ecosystem = "binary"
			c.Script = toks[0]
			c.Package = strings.ToLower(prog)
		}
		collectArgs(c, rest)
	}
	if c.TempExec == "" {
		for _, p := range [...]string{toks[0], c.Script} {
			if inTempDir(p) {
				c.TempExec = p
				break
			}
		}
	}
	unwrapProxy(c, depth)
}

// parseScript handles the text a shell wrapper runs: it spots download-and-run
// pipelines and parses the segment that actually launches the server.
func parseScript(c *Command, script string, depth int) {
	toks := splitArgs(script, true)
	if f := downloadAndRun(toks); f != "" {
		c.Fetcher = f
	}
	if d := decodeAndRun(toks); d != "" && c.Decoder == "" {
		c.Decoder = d
	}
	if c.Elevation == "" {
		for i, t := range toks {
			if strings.EqualFold(t, "-verb") && i+1 < len(toks) && strings.EqualFold(strings.Trim(toks[i+1], `"'`), "runas") {
				c.Elevation = "Start-Process -Verb RunAs"
			}
		}
	}
	var segs [][]string
	start := 0
	for i, t := range toks {
		if t == "|" || t == "&&" || t == "||" || t == ";" || t == "&" {
			segs = append(segs, toks[start:i])
			start = i + 1
		}
	}
	segs = append(segs, toks[start:])
	// The server is usually the last command ("cd x && npx ..."); prefer the
	// last segment whose launcher we recognise.
	chosen := segs[len(segs)-1]
	for i := len(segs) - 1; i >= 0; i-- {
		if len(segs[i]) > 0 && knownLauncher(progName(segs[i][0])) {
			chosen = segs[i]
			break
		}
	}
	parseTokens(c, chosen, depth, false)
}

// scriptOf is the text a shell wrapper runs: the words after its flag (cmd /c, bash -c,
// powershell -Command) joined with spaces. From an argument vector, where several arguments
// follow the flag (cmd /c npx -y pkg "C:\My Documents"), each that holds white space is quoted,
// so that splitting the text gives it back whole; a single argument is the script itself.
func scriptOf(words []string, exact bool) string {
	if !exact || len(words) < 2 {
		return strings.Join(words, " ")
	}
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch {
		case !strings.ContainsAny(w, " \t\n\r"):
			b.WriteString(w)
		case !strings.Contains(w, "'"):
			b.WriteString("'" + w + "'")
		default:
			b.WriteString(`"` + strings.ReplaceAll(w, `"`, `\"`) + `"`)
		}
	}
	return b.String()
}

func knownLauncher(p string) bool {
	switch p {
	case "npx", "bunx", "pnpx", "npm", "pnpm", "yarn", "bun", "uvx", "uv", "pipx",
		"python", "python3", "py", "node", "deno", "docker", "podman", "go",
		"sudo", "doas", "pkexec", "gsudo", "su", "runas":
		return true
	}
	return false
}

// downloadAndRun returns the pipeline that fetches a script and runs it
// ("curl -fsSL URL | sh", "sh -c $(curl ...)", "irm URL | iex"), or "".
func downloadAndRun(toks []string) string {
	isFetch := func(t string) bool {
		switch strings.ToLower(progName(strings.TrimLeft(t, "$(<`"))) {
		case "curl", "wget", "iwr", "irm", "invoke-webrequest", "invoke-restmethod", "fetch":
			return true
		}
		return false
	}
	isRun := func(t string) bool {
		switch strings.ToLower(progName(t)) {
		case "sh", "bash", "zsh", "dash", "python", "python3", "node", "iex", "invoke-expression", "sudo", "perl", "ruby":
			return true
		}
		return false
	}
	for i, t := range toks {
		// PowerShell: iex (irm URL), iex (New-Object Net.WebClient).DownloadString(URL).
		if lt := strings.ToLower(t); strings.HasPrefix(lt, "iex") || strings.HasPrefix(lt, "invoke-expression") || strings.HasPrefix(lt, "&(") {
			end := i + 1
			for end < len(toks) && toks[end] != ";" && toks[end] != "&&" && toks[end] != "|" {
				end++
			}
			if w := containsAnyFold(strings.Join(toks[i:end], " "), psFetches); w != "" {
				return strings.Join(toks[i:end], " ")
			}
		}
		if !isFetch(t) {
			continue
		}
		// Substitution: $(curl ...) or <(curl ...) feeds the download to a shell.
		if strings.HasPrefix(t, "$(") || strings.HasPrefix(t, "<(") || strings.HasPrefix(t, "`") {
			return strings.Join(toks[max(0, i-1):min(len(toks), i+3)], " ")
		}
		for j := i + 1; j < len(toks); j++ {
			if toks[j] == "&&" || toks[j] == ";" || toks[j] == "||" {
				break
			}
			if toks[j] == "|" && j+1 < len(toks) && isRun(toks[j+1]) {
				return strings.Join(toks[i:j+2], " ")
			}
		}
	}
	return ""
}

func parseNpx(c *Command, toks []string) {
	c.Ecosystem = "npm"
	c.Fetched = true
	var pkg string
	i := 0
	for ; i < len(toks); i++ {
		t := toks[i]
		if t == "--" {
			i++
			break
		}
		if !strings.HasPrefix(t, "-") {
			break
		}
		switch {
		case t == "-p" || t == "--package":
			if i+1 < len(toks) {
				pkg = toks[i+1]
				i++
			}
		case strings.HasPrefix(t, "--package="):
			pkg = strings.TrimPrefix(t, "--package=")
		case t == "-c" || t == "--call":
			i++
		}
	}
	if i < len(toks) {
		if pkg != "" {
			c.Tool = toks[i]
		} else {
			pkg = toks[i]
		}
		i++
	}
	if pkg != "" {
		setNpmSpec(c, pkg)
	}
	collectArgs(c, toks[min(i, len(toks)):])
}

// setNpmSpec understands "name", "name@1.2.3", "@scope/name@latest",
// "npm:name@1", "github:user/repo", "user/repo", "git+https://...", tarball URLs.
func setNpmSpec(c *Command, spec string) {
	c.Spec = spec
	spec = strings.TrimPrefix(spec, "npm:")
	low := strings.ToLower(spec)
	switch {
	case strings.HasPrefix(low, "git+") || strings.HasPrefix(low, "git://") ||
		strings.HasPrefix(low, "github:") || strings.HasPrefix(low, "gitlab:") ||
		strings.HasPrefix(low, "bitbucket:") || isURL(spec):
		setSource(c, spec)
		return
	case isPathLike(spec) || strings.HasSuffix(low, ".tgz") || strings.HasSuffix(low, ".tar.gz"):
		c.Ecosystem = "local"
		c.Fetched = false
		c.Script = spec
		return
	case !strings.HasPrefix(spec, "@") && strings.Count(spec, "/") == 1 && !strings.Contains(spec, "@"):
		// "user/repo" is npm's GitHub shorthand.
		setSource(c, "github:"+spec)
		return
	}
	setSpec(c, spec, "@")
}

// setSpec splits "name<sep>version" at the last separator that is not a scope's "@".
func setSpec(c *Command, spec, sep string) {
	if c.Spec == "" {
		c.Spec = spec
	}
	name, version := spec, ""
	if i := strings.LastIndex(spec, sep); i > 0 {
		name, version = spec[:i], spec[i+len(sep):]
	}
	c.Package = name
	c.Version = version
}

// setSource records a git/URL source and names the package after the repository.
func setSource(c *Command, src string) {
	c.Source = src
	u := src
	if i := strings.Index(u, "#"); i >= 0 {
		u = u[:i]
	}
	u = strings.TrimSuffix(strings.TrimRight(u, "/"), ".git")
	if i := strings.LastIndexAny(u, "/:"); i >= 0 {
		u = u[i+1:]
	}
	if c.Package == "" {
		c.Package = strings.TrimSuffix(strings.TrimSuffix(u, ".tgz"), ".tar.gz")
	}
}

// parsePyRunner handles uvx, "uv tool run" and "pipx run".
func parsePyRunner(c *Command, toks []string) {
	c.Ecosystem = "pypi"
	c.Fetched = true
	var from string
	i := 0
	for ; i < len(toks); i++ {
		t := toks[i]
		if !strings.HasPrefix(t, "-") {
			break
		}
		name, val, hasVal := strings.Cut(t, "=")
		switch name {
		case "--from", "--spec":
			if hasVal {
				from = val
			} else if i+1 < len(toks) {
				from = toks[i+1]
				i++
			}
		case "--with", "-w", "--with-editable", "--with-requirements", "--python", "-p",
			"--index", "--index-url", "--extra-index-url", "--default-index", "--env-file",
			"--prerelease", "--resolution", "--cache-dir", "--directory", "--project", "--pip-args":
			if !hasVal {
				i++
			}
		}
	}
	if i < len(toks) {
		if from != "" {
			c.Tool = toks[i]
		} else {
			from = toks[i]
		}
		i++
	}
	if from != "" {
		setPySpec(c, from)
	}
	collectArgs(c, toks[min(i, len(toks)):])
}

// setPySpec understands "name", "name==1.2", "name@1.2", "name[extra]>=1", git and URL sources.
func setPySpec(c *Command, spec string) {
	c.Spec = spec
	low := strings.ToLower(spec)
	if strings.HasPrefix(low, "git+") || isURL(spec) {
		setSource(c, spec)
		return
	}
	if isPathLike(spec) {
		c.Ecosystem = "local"
		c.Fetched = false
		c.Script = spec
		return
	}
	// "name @ git+https://..." direct references.
	if name, ref, ok := strings.Cut(spec, "@"); ok && (strings.Contains(ref, "://") || strings.HasPrefix(strings.TrimSpace(ref), "git+")) {
		c.Package = strings.TrimSpace(name)
		setSource(c, strings.TrimSpace(ref))
		return
	}
	end := strings.IndexAny(spec, "=<>~!@[ ")
	if end < 0 {
		c.Package = spec
		return
	}
	c.Package = spec[:end]
	rest := spec[end:]
	if strings.HasPrefix(rest, "[") {
		if j := strings.Index(rest, "]"); j >= 0 {
			rest = rest[j+1:]
		}
	}
	switch {
	case strings.HasPrefix(rest, "=="):
		c.Version = rest[2:]
	case strings.HasPrefix(rest, "@"):
		c.Version = rest[1:]
	default:
		c.Version = rest // a range, kept as written so Pinned sees it floats
	}
}

// parseUv handles "uv [--directory D] run ..." and "uv tool run ...".
func parseUv(c *Command, toks []string) {
	i := 0
	for ; i < len(toks) && strings.HasPrefix(toks[i], "-"); i++ {
		if (toks[i] == "--directory" || toks[i] == "--project" || toks[i] == "--python" || toks[i] == "-p") && i+1 < len(toks) {
			i++
		}
	}
	if i < len(toks) && toks[i] == "tool" && i+1 < len(toks) && toks[i+1] == "run" {
		c.Runner = "uv tool run"
		parsePyRunner(c, toks[i+2:])
		return
	}
	if i < len(toks) && toks[i] == "run" {
		c.Runner = "uv run"
		toks = toks[i+1:]
		i = 0
		for ; i < len(toks) && strings.HasPrefix(toks[i], "-"); i++ {
			name, _, hasVal := strings.Cut(toks[i], "=")
			switch name {
			case "--directory", "--project", "--with", "-w", "--python", "-p", "--env-file", "--package", "--extra", "--group", "--index":
				if !hasVal {
					i++
				}
			}
		}
		c.Ecosystem = "local"
		if i < len(toks) {
			if isScriptFile(toks[i]) {
				c.Script = toks[i]
			} else {
				// A console script of the project in --directory.
				c.Package = toks[i]
			}
			i++
		}
		collectArgs(c, toks[min(i, len(toks)):])
		return
	}
	c.Args = toks
}

func parsePython(c *Command, toks []string) {
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t == "-m" && i+1 < len(toks) {
			// An installed module: nothing is fetched at launch.
			c.Ecosystem = "pypi"
			c.Package = strings.ReplaceAll(toks[i+1], "_", "-")
			c.Spec = toks[i+1]
			collectArgs(c, toks[i+2:])
			return
		}
		if t == "-c" {
			c.Ecosystem = "local"
			c.Script = "-c"
			if i+1 < len(toks) {
				c.Inline = "python -c " + toks[i+1]
			}
			return
		}
		if !strings.HasPrefix(t, "-") {
			c.Ecosystem = "local"
			c.Script = t
			collectArgs(c, toks[i+1:])
			return
		}
	}
}

// parseScriptRunner handles "node build/index.js", "bun run x.ts", "tsx src/main.ts".
func parseScriptRunner(c *Command, toks []string) {
	c.Ecosystem = "local"
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t == "run" && i == 0 {
			continue
		}
		if !strings.HasPrefix(t, "-") {
			c.Script = t
			collectArgs(c, toks[i+1:])
			return
		}
	}
}

func parseDeno(c *Command, toks []string) {
	c.Ecosystem = "local"
	i := 0
	if i < len(toks) && (toks[i] == "run" || toks[i] == "serve") {
		i++
	}
	for ; i < len(toks) && strings.HasPrefix(toks[i], "-"); i++ {
		t := toks[i]
		name, val, _ := strings.Cut(t, "=")
		if strings.HasPrefix(name, "--allow-") || name == "-A" || len(name) == 2 && strings.Contains("RWNESP", name[1:]) {
			c.Deno = append(c.Deno, t)
			if (name == "--allow-read" || name == "--allow-write" || name == "-R" || name == "-W") && val != "" {
				for _, p := range strings.Split(val, ",") {
					c.Paths = appendUnique(c.Paths, p)
				}
			}
		}
		if name == "--config" || name == "-c" || name == "--import-map" || name == "--env-file" {
			if !strings.Contains(t, "=") {
				i++
			}
		}
	}
	if i >= len(toks) {
		return
	}
	spec := toks[i]
	switch {
	case strings.HasPrefix(spec, "jsr:"):
		c.Ecosystem, c.Fetched = "jsr", true
		setSpec(c, strings.TrimPrefix(spec, "jsr:"), "@")
		c.Spec = spec
	case strings.HasPrefix(spec, "npm:"):
		c.Ecosystem, c.Fetched = "npm", true
		setSpec(c, strings.TrimPrefix(spec, "npm:"), "@")
		c.Spec = spec
	case isURL(spec):
		c.Fetched = true
		c.Spec = spec
		setSource(c, spec)
	default:
		c.Script = spec
	}
	collectArgs(c, toks[i+1:])
}

// dockerValueFlags take a value as the next argument.
var dockerValueFlags = map[string]bool{
	"-e": true, "--env": true, "--env-file": true, "-v": true, "--volume": true, "--mount": true,
	"--network": true, "--net": true, "--name": true, "-w": true, "--workdir": true, "-u": true,
	"--user": true, "--entrypoint": true, "-p": true, "--publish": true, "-l": true, "--label": true,
	"--platform": true, "-m": true, "--memory": true, "--cpus": true, "--add-host": true,
	"--device": true, "-h": true, "--hostname": true, "--restart": true, "--pull": true,
	"--pid": true, "--ipc": true, "--cap-add": true, "--cap-drop": true, "--security-opt": true,
	"--userns": true, "--uts": true, "--log-driver": true, "--tmpfs": true, "--shm-size": true,
	"--gpus": true, "--dns": true, "--cidfile": true, "--stop-signal": true, "--ulimit": true,
}

func parseDocker(c *Command, toks []string) {
	c.Ecosystem = "docker"
	if len(toks) > 0 && toks[0] == "container" {
		toks = toks[1:]
	}
	if len(toks) > 0 && toks[0] == "mcp" {
		// Docker Desktop's MCP Toolkit gateway runs catalog servers in containers.
		c.Package = "docker/mcp-gateway"
		c.Spec = "docker mcp " + strings.Join(toks[1:], " ")
		c.Args = toks[1:]
		return
	}
	if len(toks) == 0 || toks[0] != "run" && toks[0] != "create" {
		c.Args = toks
		return
	}
	c.Fetched = true
	i := 1
	for ; i < len(toks); i++ {
		t := toks[i]
		if !strings.HasPrefix(t, "-") {
			break
		}
		name, val, hasVal := strings.Cut(t, "=")
		if !hasVal && dockerValueFlags[name] {
			if i+1 < len(toks) {
				val = toks[i+1]
				i++
			}
		}
		switch name {
		case "--privileged":
			c.Container.Privileged = val != "false"
		case "-e", "--env":
			if isAssignment(val) {
				addEnvAssign(c, val)
			} else if val != "" {
				c.EnvNames = appendUnique(c.EnvNames, val)
			}
		case "--network", "--net":
			if val == "host" {
				c.Container.HostNetwork = true
			}
		case "--pid":
			if val == "host" {
				c.Container.HostPID = true
			}
		case "--cap-add":
			c.Container.CapAdd = append(c.Container.CapAdd, strings.ToUpper(val))
		case "--security-opt":
			c.Container.SecurityOpt = append(c.Container.SecurityOpt, val)
		case "-v", "--volume":
			addVolume(c, val)
		case "--mount":
			addMount(c, val)
		}
	}
	if i < len(toks) {
		setImage(c, toks[i])
		i++
	}
	collectArgs(c, toks[min(i, len(toks)):])
}

// setImage splits "registry/name:tag@sha256:..." and drops Docker Hub's implicit prefixes.
func setImage(c *Command, image string) {
	c.Spec = image
	name, version := image, ""
	if i := strings.Index(name, "@"); i >= 0 {
		name, version = name[:i], name[i+1:]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		if version == "" {
			version = name[i+1:]
		}
		name = name[:i]
	}
	name = strings.TrimPrefix(strings.TrimPrefix(name, "docker.io/"), "index.docker.io/")
	name = strings.TrimPrefix(name, "library/")
	c.Package = name
	c.Version = version
}

// addVolume parses "-v host:container[:ro]", taking care of Windows drive letters.
func addVolume(c *Command, v string) {
	parts := splitVolume(v)
	if len(parts) < 2 {
		return // anonymous volume
	}
	m := Mount{Host: parts[0], Target: parts[1]}
	if len(parts) > 2 && strings.Contains(parts[2], "ro") {
		m.ReadOnly = true
	}
	// Named volumes ("data:/data") are not host paths.
	if !isPathLike(m.Host) && !strings.HasPrefix(m.Host, `\\`) {
		return
	}
	c.Container.Mounts = append(c.Container.Mounts, m)
}

func splitVolume(v string) []string {
	var parts []string
	for len(v) > 0 {
		// "C:\x" or "C:/x": the drive colon is not a separator.
		skip := 0
		if len(v) > 2 && isLetter(v[0]) && v[1] == ':' && (v[2] == '\\' || v[2] == '/') {
			skip = 2
		}
		j := strings.Index(v[skip:], ":")
		if j < 0 {
			parts = append(parts, v)
			break
		}
		parts = append(parts, v[:skip+j])
		v = v[skip+j+1:]
	}
	return parts
}

// addMount parses "--mount type=bind,src=/x,dst=/y,readonly".
func addMount(c *Command, v string) {
	var m Mount
	bind := false
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "type":
			bind = val == "bind"
		case "src", "source":
			m.Host = val
		case "dst", "target", "destination":
			m.Target = val
		case "readonly", "ro":
			m.ReadOnly = val == "" || val == "true" || val == "1"
		}
	}
	if bind || isPathLike(m.Host) {
		c.Container.Mounts = append(c.Container.Mounts, m)
	}
}

// unwrapProxy replaces a stdio proxy by the server it launches, keeping the
// proxy in Via: "supergateway --stdio 'npx ...'" and "@smithery/cli run pkg".
func unwrapProxy(c *Command, depth int) {
	switch {
	case equalLower(c.Package, "supergateway"):
		for i, a := range c.Args {
			if a == "--stdio" && i+1 < len(c.Args) && depth < maxDepth {
				var inner Command
				parseTokens(&inner, splitArgs(strings.Join(c.Args[i+1:], " "), false), depth+1, false)
				inner.Via = c.Spec
				inner.Wrappers = append(c.Wrappers, inner.Wrappers...)
				*c = inner
				return
			}
		}
	case equalLower(c.Package, "@smithery/cli"):
		for i, a := range c.Args {
			if a == "run" && i+1 < len(c.Args) {
				inner := Command{Runner: c.Runner, Ecosystem: "npm", Fetched: true, Via: c.Spec, Wrappers: c.Wrappers}
				setNpmSpec(&inner, c.Args[i+1])
				collectArgs(&inner, c.Args[i+2:])
				*c = inner
				return
			}
		}
	}
}

// pathFlag reports whether a flag's value is a path even when it is written relatively
// ("--repository path/to/repo"), from the words of its name: a word that starts or ends with
// dir, path, repo, root, folder, workspace or file (--db-path, --rootDir, --config-file,
// --directories), or is db or allowed. "profile" ends with "file" but names a profile
// (--profile work, AWS's and browsers' alike); --profile-dir is still a path.
func pathFlag(name string) bool {
	words := strings.FieldsFuncSeq(strings.ToLower(strings.TrimLeft(name, "-/")), func(r rune) bool {
		return r == '-' || r == '_' || r == '.'
	})
	for w := range words {
		switch w {
		case "db", "allowed":
			return true
		case "profile", "profiles":
			continue
		}
		for _, p := range pathFlagWords {
			if strings.HasPrefix(w, p) || strings.HasSuffix(w, p) {
				return true
			}
		}
	}
	return false
}

var pathFlagWords = []string{"dir", "path", "repo", "root", "folder", "workspace", "file"}

// collectArgs stores the server's arguments and picks out paths and URLs.
func collectArgs(c *Command, args []string) {
	if c.Args == nil && len(args) > 0 {
		// Share the tokens instead of copying them; the capacity limit makes a later append copy.
		c.Args = args[:len(args):len(args)]
	} else {
		c.Args = append(c.Args, args...)
	}
	prevPathFlag := false
	for _, a := range args {
		val := a
		isFlag := strings.HasPrefix(a, "-")
		if isFlag {
			name, v, ok := strings.Cut(a, "=")
			if !ok {
				prevPathFlag = pathFlag(name)
				continue
			}
			val = v
		}
		wasPathFlag := prevPathFlag
		prevPathFlag = false
		if isAssignment(val) && !isFlag {
			addEnvAssign(c, val)
			continue
		}
		for part := range strings.SplitSeq(val, ",") {
			part = strings.TrimSpace(part)
			switch {
			case part == "":
			case isURL(part):
				c.URLs = appendUnique(c.URLs, part)
			case isPathLike(part) || wasPathFlag && !strings.Contains(part, "://") && part != "true" && part != "false":
				if !isScriptFile(part) {
					c.Paths = appendUnique(c.Paths, part)
				}
			}
		}
	}
}

func addEnvAssign(c *Command, kv string) {
	name, _, _ := strings.Cut(kv, "=")
	c.EnvNames = appendUnique(c.EnvNames, name)
	c.EnvAssign = append(c.EnvAssign, kv)
}

// isAssignment reports "NAME=value" with a shell-variable-like name.
func isAssignment(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b == '_' || isLetter(b) || i > 0 && b >= '0' && b <= '9') {
			return false
		}
	}
	return true
}

// progName is the launcher's base name without directory or Windows extension.
func progName(t string) string {
	t = strings.ReplaceAll(t, `\`, "/")
	t = path.Base(t)
	lt := strings.ToLower(t)
	for _, ext := range []string{".exe", ".cmd", ".bat", ".ps1"} {
		if strings.HasSuffix(lt, ext) {
			return lt[:len(lt)-len(ext)]
		}
	}
	// python3.12 → python3
	if strings.HasPrefix(lt, "python3.") {
		return "python3"
	}
	return lt
}

func isScriptFile(t string) bool {
	for _, ext := range []string{".js", ".mjs", ".cjs", ".ts", ".mts", ".py", ".jar", ".sh", ".ps1", ".rb", ".pyz"} {
		if hasSuffixLower(t, ext) {
			return true
		}
	}
	return false
}

func isURL(s string) bool {
	return hasPrefixLower(s, "http://") || hasPrefixLower(s, "https://") ||
		hasPrefixLower(s, "ws://") || hasPrefixLower(s, "wss://")
}

// equalLower is strings.ToLower(s) == lower for an ASCII lower, without
// lowering s when one of its ASCII bytes already differs (an ASCII prefix
// lowers byte for byte).
func equalLower(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.ToLower(s) == lower
		}
		if i >= len(lower) || lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return len(s) == len(lower)
}

// hasPrefixLower is strings.HasPrefix(strings.ToLower(s), prefix) without
// lowering s, for a lower-case ASCII prefix without 'i' or 'k': the only
// non-ASCII runes that lower to ASCII are U+0130 (to 'i') and U+212A (to 'k'),
// so only ASCII bytes of s can lower to the prefix.
func hasPrefixLower(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// hasSuffixLower is strings.HasSuffix(strings.ToLower(s), suffix) under the
// same conditions as hasPrefixLower.
func hasSuffixLower(s, suffix string) bool {
	if len(s) < len(suffix) {
		return false
	}
	return hasPrefixLower(s[len(s)-len(suffix):], suffix)
}

func lowerASCII(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// isPathLike recognises absolute, home-relative, explicitly relative and
// Windows paths, plus the variables clients expand to paths.
func isPathLike(s string) bool {
	if s == "" || strings.Contains(s, "://") {
		return false
	}
	switch {
	case s[0] == '/' || s[0] == '~':
		return true
	case s == "." || s == ".." || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		strings.HasPrefix(s, `.\`) || strings.HasPrefix(s, `..\`):
		return true
	case strings.HasPrefix(s, `\\`):
		return true
	case len(s) >= 2 && isLetter(s[0]) && s[1] == ':' && (len(s) == 2 || s[2] == '\\' || s[2] == '/'):
		return true
	}
	// Every variable below starts with $ or %, which no other rune lowers to.
	if s[0] != '$' && s[0] != '%' {
		return false
	}
	ls := strings.ToLower(s)
	for _, v := range []string{"$home", "${home}", "%userprofile%", "${userhome}", "${workspacefolder}", "$pwd", "${pwd}", "%homepath%", "%appdata%", "%localappdata%"} {
		if strings.HasPrefix(ls, v) {
			return true
		}
	}
	return false
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

func indexFold(toks []string, want ...string) int {
	for i, t := range toks {
		for _, w := range want {
			if strings.EqualFold(t, w) {
				return i
			}
		}
	}
	return -1
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// argSpecial marks the bytes that end or change a token in splitArgs: blanks,
// quotes, backslash and, in script mode, the shell operators.
var argSpecial = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '\'': true, '"': true, '\\': true, '|': true, ';': true, '&': true}

// splitArgs splits a command line with simple shell quoting. Backslash only
// escapes a quote or a space, so Windows paths (C:\Users\x) survive. In
// script mode, unquoted |, ||, &&, ; and & become tokens of their own.
//
// A token that is a plain run of bytes of s is returned as a slice of s; only
// tokens changed by quotes or escapes are copied out of a reused buffer.
func splitArgs(s string, script bool) []string {
	toks := make([]string, 0, strings.Count(s, " ")+1)
	var buf []byte
	inTok := false
	plain := false // the token so far is s[start:i]; otherwise it is buf
	start := 0
	var quote byte
	// toBuf moves the token into buf before a byte it does not share with s.
	toBuf := func(i int) {
		switch {
		case !inTok:
			buf = buf[:0]
		case plain:
			buf = append(buf[:0], s[start:i]...)
		}
		inTok, plain = true, false
	}
	flush := func(i int) {
		if inTok {
			if plain {
				toks = append(toks, s[start:i])
			} else {
				toks = append(toks, string(buf))
			}
			inTok = false
		}
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else if ch == '\\' && quote == '"' && i+1 < len(s) && s[i+1] == '"' {
				buf = append(buf, '"')
				i++
			} else {
				buf = append(buf, ch)
			}
		case ch == '\'' || ch == '"':
			toBuf(i)
			quote = ch
		case ch == '\\' && i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '"' || s[i+1] == '\''):
			toBuf(i)
			buf = append(buf, s[i+1])
			i++
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			flush(i)
		case script && (ch == '|' || ch == ';' || ch == '&'):
			flush(i)
			if (ch == '|' || ch == '&') && i+1 < len(s) && s[i+1] == ch {
				toks = append(toks, s[i:i+2])
				i++
			} else {
				toks = append(toks, s[i:i+1])
			}
		case !inTok:
			inTok, plain, start = true, true, i
			// The run of ordinary bytes that follows belongs to the token as it is.
			for i+1 < len(s) && !argSpecial[s[i+1]] {
				i++
			}
		case !plain:
			buf = append(buf, ch)
		}
	}
	flush(len(s))
	if len(toks) == 0 {
		return nil
	}
	return toks
}

// elevate takes apart a command started through sudo, doas, pkexec, gsudo, su -c or runas: the
// server runs as root or administrator. It reports false when prog is not used as a launcher
// (no command follows), so that the caller parses it as an ordinary program.
func elevate(c *Command, prog string, rest []string, depth int, exact bool) bool {
	valueFlags := elevationValueFlags[prog]
	i := 0
	for ; i < len(rest); i++ {
		t := rest[i]
		if t == "--" {
			i++
			break
		}
		if prog == "runas" {
			if !strings.HasPrefix(t, "/") {
				break
			}
			continue
		}
		if !strings.HasPrefix(t, "-") {
			if prog == "su" {
				continue // su [options] [user] -c command: the user comes before or after -c
			}
			break
		}
		name, _, hasVal := strings.Cut(t, "=")
		if prog == "su" && (name == "-c" || name == "--command") {
			if hasVal {
				rest = append([]string{t[len(name)+1:]}, rest[i+1:]...)
			} else {
				rest = rest[i+1:]
			}
			i = 0
			break
		}
		if !hasVal && valueFlags[name] {
			i++
		}
	}
	if prog == "su" && i > 0 || i >= len(rest) {
		return false
	}
	c.Wrappers = append(c.Wrappers, prog)
	if c.Elevation == "" {
		c.Elevation = prog
	}
	if prog == "runas" || prog == "su" {
		// Both take the command as one argument that is a command line of its own.
		parseScript(c, scriptOf(rest[i:], exact), depth+1)
		return true
	}
	parseTokens(c, rest[i:], depth+1, exact)
	return true
}

// elevationValueFlags are each elevating launcher's options that take the next argument.
var elevationValueFlags = map[string]map[string]bool{
	"sudo": {"-u": true, "--user": true, "-g": true, "--group": true, "-C": true, "--close-from": true, "-D": true, "--chdir": true,
		"-h": true, "--host": true, "-p": true, "--prompt": true, "-r": true, "--role": true, "-t": true, "--type": true,
		"-U": true, "--other-user": true, "-T": true, "--command-timeout": true},
	"doas":   {"-u": true, "-C": true},
	"pkexec": {"--user": true},
	"gsudo":  {"-u": true, "--user": true, "-i": true, "--integrity": true, "-d": true},
	"su":     {"-s": true, "--shell": true, "-g": true, "--group": true, "-G": true, "--supp-group": true, "-w": true, "--whitelist-environment": true},
}

// encodedCommandFlag reports PowerShell's -EncodedCommand, which PowerShell accepts under any
// prefix from -e, and its alias -ec.
func encodedCommandFlag(lt string) bool {
	return lt == "-ec" || len(lt) >= 2 && strings.HasPrefix("-encodedcommand", lt)
}

// parseInline records interpreter code given on the command line (node -e, perl -e, php -r):
// the server is that code. It reports false when no such flag comes before the script.
func parseInline(c *Command, prog string, toks []string, flags ...string) bool {
	for i, t := range toks {
		if !strings.HasPrefix(t, "-") {
			return false
		}
		for _, f := range flags {
			if t == f && i+1 < len(toks) {
				c.Ecosystem = "local"
				c.Script = t
				c.Inline = prog + " " + t + " " + toks[i+1]
				return true
			}
		}
	}
	return false
}

// clip shortens evidence to about n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// inTempDir reports whether a program or script path lies in a temporary or world-writable
// folder, where any local user or a download can replace it.
func inTempDir(p string) bool {
	if len(p) < 5 {
		return false
	}
	for _, d := range tempDirs {
		if pathPrefixFold(p, d) {
			return true
		}
	}
	const appTemp = "/appdata/local/temp/"
	for i := 0; i+len(appTemp) <= len(p); i++ {
		if (p[i] == '/' || p[i] == '\\') && pathPrefixFold(p[i:], appTemp) {
			return true
		}
	}
	return false
}

// pathPrefixFold reports whether p starts with prefix (lower case, / separated), ignoring ASCII
// case and taking \ for /, without building the folded path.
func pathPrefixFold(p, prefix string) bool {
	if len(p) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := lowerASCII(p[i])
		if c == '\\' {
			c = '/'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

var tempDirs = []string{
	"/tmp/", "/var/tmp/", "/dev/shm/", "/private/tmp/", "/private/var/tmp/", "/users/shared/", "/var/folders/",
	"c:/windows/temp/", "c:/users/public/", "%temp%/", "%tmp%/", "$tmpdir/", "${tmpdir}/", "$tmp/", "${tmp}/",
	"$env:temp/", "$env:tmp/",
}

// decodeAndRun returns the pipeline that decodes a payload and runs it ("echo … | base64 -d |
// sh", "eval $(echo … | base64 --decode)"), or "".
func decodeAndRun(toks []string) string {
	for i, t := range toks {
		// eval "$(echo … | base64 -d)": the pipeline is one quoted token.
		if i > 0 && isSubstitution(t) && isInterpreter(strings.TrimLeft(toks[i-1], "$(`\"'")) {
			inner := splitArgs(strings.Trim(strings.TrimLeft(t, "$(<`"), ")`"), true)
			for k := range inner {
				if isDecoder(inner, k) {
					return clip(toks[i-1]+" "+t, 120)
				}
			}
		}
		if !isDecoder(toks, i) {
			continue
		}
		// Decoded into a substitution that a shell or eval runs.
		for j := i - 1; j >= 0 && j >= i-6; j-- {
			tj := strings.TrimLeft(toks[j], "$(`\"'")
			if p := strings.ToLower(progName(tj)); p == "eval" || p == "exec" || p == "source" || p == "." {
				return strings.Join(toks[j:min(len(toks), i+3)], " ")
			}
		}
		for j := i + 1; j < len(toks); j++ {
			if toks[j] == "&&" || toks[j] == ";" || toks[j] == "||" {
				break
			}
			if toks[j] == "|" && j+1 < len(toks) && isInterpreter(toks[j+1]) {
				return strings.Join(toks[max(0, i-3):j+2], " ")
			}
		}
	}
	return ""
}

func isSubstitution(t string) bool {
	return strings.HasPrefix(t, "$(") || strings.HasPrefix(t, "<(") || strings.HasPrefix(t, "`")
}

// isDecoder reports a decoding command at toks[i]: base64 -d, openssl base64 -d, xxd -r,
// certutil -decode.
func isDecoder(toks []string, i int) bool {
	p := strings.ToLower(progName(strings.TrimLeft(toks[i], "$(`\"'")))
	flag := func(want ...string) bool {
		for j := i + 1; j < len(toks) && j <= i+4; j++ {
			for _, w := range want {
				if toks[j] == w {
					return true
				}
			}
		}
		return false
	}
	switch p {
	case "base64", "base32", "gbase64":
		return flag("-d", "-D", "--decode")
	case "openssl":
		return flag("base64", "enc") && flag("-d", "-A")
	case "xxd":
		return flag("-r", "-rp", "-revert")
	case "certutil":
		return flag("-decode", "/decode", "-decodehex")
	case "uudecode":
		return true
	}
	return false
}

// isInterpreter reports a program that runs what it reads: shells, interpreters, eval.
func isInterpreter(t string) bool {
	switch strings.ToLower(progName(t)) {
	case "sh", "bash", "zsh", "dash", "ksh", "fish", "python", "python3", "node", "perl", "ruby", "php",
		"iex", "invoke-expression", "sudo", "doas", "eval", "exec", "source", ".", "powershell", "pwsh", "osascript":
		return true
	}
	return false
}

// Inline code is judged by what it mentions: a network fetch, or a decoded payload run.
var (
	inlineNetwork = []string{"http://", "https://", "urlopen", "urllib", "requests.get", "requests.post", "httpx",
		"http.client", "fetch(", "https.get", "http.get", "https.request", "http.request", "net.webclient",
		"downloadstring", "downloadfile", "invoke-webrequest", "invoke-restmethod", "iwr ", "irm ",
		"socket.", "net.socket", "net.connect", "xmlhttprequest", "import(\"http", "import('http", "urlretrieve"}
	inlineDecode = []string{"b64decode", "frombase64string", "atob(", "'base64'", "\"base64\"", "base64.decode",
		"codecs.decode", "zlib.decompress", "marshal.loads", "unpack(\"m", "unpack('m", "decode64"}
	inlineRun = []string{"exec(", "eval(", "eval)", "iex", "invoke-expression", "function(", "compile(", "system(", "spawn(",
		"execsync", "child_process", "runpy", "vm.run", "popen", "subprocess", "import(", "import \"http", "import 'http"}
)

var psFetches = []string{"irm", "iwr", "invoke-restmethod", "invoke-webrequest", "downloadstring", "curl", "wget", "net.webclient"}

func containsAnyFold(s string, words []string) string {
	ls := strings.ToLower(s)
	for _, w := range words {
		if strings.Contains(ls, w) {
			return w
		}
	}
	return ""
}
