package risk

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/assess_golden.json from the current code")

const goldenPath = "testdata/assess_golden.json"

// The golden file keeps each rule's severity, title and default detail once;
// a factor stores only what differs from its rule. Comparison is on whole
// assessments rebuilt from the file, never on the code's own rule table.
type goldenFile struct {
	Rules  map[string]goldenRule `json:"rules"`
	Groups []goldenGroup         `json:"groups"`
}

type goldenRule struct {
	Severity string `json:"severity"`
	Title    string `json:"title"`
	Detail   string `json:"detail"`
}

// goldenGroup holds inputs assessed each on its own and, ten at a time, as one agent.
type goldenGroup struct {
	Name  string       `json:"name"`
	Cases []goldenCase `json:"cases"`
	Agent bool         `json:"agent"` // assessed ten at a time as one agent too
}

type goldenCase struct {
	Input   map[string]any    `json:"input"`   // the input's non-zero fields
	Command map[string]any    `json:"command"` // ParseCommand's non-zero fields
	Alone   goldenAssessment  `json:"alone"`
	InAgent *goldenAssessment `json:"in_agent,omitempty"` // when it differs from Alone
}

type goldenAssessment struct {
	Score   int            `json:"score"`
	Level   string         `json:"level"`
	Factors []goldenFactor `json:"factors"`
}

type goldenFactor struct {
	ID       string `json:"id"`
	Evidence string `json:"evidence"`
	Extra    string `json:"extra,omitempty"`    // detail text before the rule's default detail
	Severity string `json:"severity,omitempty"` // only when it differs from the rule's
	Title    string `json:"title,omitempty"`    // only when it differs from the rule's
	Detail   string `json:"detail,omitempty"`   // only when it does not end with the rule's default
}

// TestAssessGolden pins every assessment (score, level, factor ids, titles,
// details, evidence and their order) and every parsed command over a broad
// set of inputs, so that a change meant to make assessment cheaper cannot
// change what it says. Run with -update only when a change is meant to.
func TestAssessGolden(t *testing.T) {
	groups := goldenInputs()
	if *updateGolden {
		writeGolden(t, groups)
		return
	}
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test -run TestAssessGolden -update ./impl/risk to create it)", err)
	}
	var want goldenFile
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Groups) != len(groups) {
		t.Fatalf("golden has %d groups, the test builds %d", len(want.Groups), len(groups))
	}
	for gi, g := range groups {
		wg := want.Groups[gi]
		if wg.Name != g.name || len(wg.Cases) != len(g.inputs) {
			t.Fatalf("group %d: golden has %q with %d cases, the test builds %q with %d", gi, wg.Name, len(wg.Cases), g.name, len(g.inputs))
		}
		alone, inAgent := assessGroup(g)
		for i, in := range g.inputs {
			wc := wg.Cases[i]
			if !bytes.Equal(mustJSON(nonZeroFields(in)), mustJSON(wc.Input)) {
				t.Fatalf("%s/%d: golden input %v, the test builds %+v", g.name, i, wc.Input, in)
			}
			compareJSON(t, fmt.Sprintf("%s/%d %q command", g.name, i, in.Command), nonZeroFields(ParseCommand(in.Command)), wc.Command)
			wantAlone := want.expand(wc.Alone)
			compareJSON(t, fmt.Sprintf("%s/%d %q alone", g.name, i, in.Command), alone[i], wantAlone)
			if g.agent {
				wantAgent := wantAlone
				if wc.InAgent != nil {
					wantAgent = want.expand(*wc.InAgent)
				}
				compareJSON(t, fmt.Sprintf("%s/%d %q in agent", g.name, i, in.Command), inAgent[i], wantAgent)
			}
		}
	}
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

func compareJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s differs\n got: %s\nwant: %s", what, g, w)
	}
}

type inputGroup struct {
	name   string
	inputs []Input
	agent  bool
}

// assessGroup assesses each input on its own and, for agent groups, ten at a time.
func assessGroup(g inputGroup) (alone, inAgent []Assessment) {
	for _, in := range g.inputs {
		alone = append(alone, AssessAll([]Input{in})[0])
	}
	if g.agent {
		for i := 0; i < len(g.inputs); i += 10 {
			inAgent = append(inAgent, AssessAll(g.inputs[i:min(i+10, len(g.inputs))])...)
		}
	}
	return alone, inAgent
}

func (f goldenFile) expand(a goldenAssessment) Assessment {
	out := Assessment{Score: a.Score, Level: a.Level, Factors: []Factor{}}
	for _, gf := range a.Factors {
		r := f.Rules[gf.ID]
		fa := Factor{ID: gf.ID, Severity: r.Severity, Title: r.Title, Detail: r.Detail, Evidence: gf.Evidence}
		if gf.Extra != "" {
			fa.Detail = gf.Extra + " " + r.Detail
		}
		if gf.Severity != "" {
			fa.Severity = gf.Severity
		}
		if gf.Title != "" {
			fa.Title = gf.Title
		}
		if gf.Detail != "" {
			fa.Detail = gf.Detail
		}
		out.Factors = append(out.Factors, fa)
	}
	return out
}

func writeGolden(t *testing.T, groups []inputGroup) {
	f := goldenFile{Rules: map[string]goldenRule{}}
	for _, r := range rules {
		f.Rules[r.ID] = goldenRule{Severity: r.Severity, Title: r.Title, Detail: r.Why + " " + r.Fix}
	}
	shrink := func(a Assessment) goldenAssessment {
		out := goldenAssessment{Score: a.Score, Level: a.Level, Factors: []goldenFactor{}}
		for _, fa := range a.Factors {
			r := f.Rules[fa.ID]
			gf := goldenFactor{ID: fa.ID, Evidence: fa.Evidence}
			if fa.Severity != r.Severity {
				gf.Severity = fa.Severity
			}
			if fa.Title != r.Title {
				gf.Title = fa.Title
			}
			switch {
			case fa.Detail == r.Detail:
			case strings.HasSuffix(fa.Detail, " "+r.Detail) && fa.Detail != " "+r.Detail:
				gf.Extra = strings.TrimSuffix(fa.Detail, " "+r.Detail)
			default:
				gf.Detail = fa.Detail
			}
			out.Factors = append(out.Factors, gf)
		}
		return out
	}
	for _, g := range groups {
		alone, inAgent := assessGroup(g)
		wg := goldenGroup{Name: g.name, Agent: g.agent}
		for i, in := range g.inputs {
			c := goldenCase{Input: nonZeroFields(in), Command: nonZeroFields(ParseCommand(in.Command)), Alone: shrink(alone[i])}
			if g.agent && !reflect.DeepEqual(alone[i], inAgent[i]) {
				a := shrink(inAgent[i])
				c.InAgent = &a
			}
			wg.Cases = append(wg.Cases, c)
		}
		f.Groups = append(f.Groups, wg)
	}
	// One line per case keeps the file reviewable in a diff.
	var buf bytes.Buffer
	rulesJSON, err := json.Marshal(f.Rules)
	if err != nil {
		t.Fatal(err)
	}
	buf.WriteString("{\"rules\": ")
	buf.Write(rulesJSON)
	buf.WriteString(",\n\"groups\": [\n")
	for gi, g := range f.Groups {
		fmt.Fprintf(&buf, "{\"name\": %q, \"agent\": %v, \"cases\": [\n", g.Name, g.Agent)
		for i, c := range g.Cases {
			line, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(line)
			if i < len(g.Cases)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString("]}")
		if gi < len(f.Groups)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]}\n")
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// nonZeroFields is a struct's JSON without its zero fields.
func nonZeroFields(v any) map[string]any {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		panic(err)
	}
	dropZero(m)
	return m
}

func dropZero(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			dropZero(v)
			if len(v) == 0 {
				delete(m, k)
			}
		case nil:
			delete(m, k)
		case string:
			if v == "" {
				delete(m, k)
			}
		case bool:
			if !v {
				delete(m, k)
			}
		}
	}
}

func goldenInputs() []inputGroup {
	var ins []Input
	for _, tt := range assessCases {
		ins = append(ins, tt.in)
	}
	groups := []inputGroup{
		{"loadgen report", loadgenReport, true},
		{"assess cases", ins, true},
		{"command lines", commandLineInputs(), true},
		{"catalog", catalogInputs(), true},
		{"advisories", advisoryInputs(), false},
		{"odd", oddInputs(), true},
		{"generated", generatedInputs(), true},
	}
	for _, tt := range combinationCases {
		groups = append(groups, inputGroup{"combination/" + tt.name, tt.agent, true})
	}
	groups = append(groups, inputGroup{"edges", edgeInputs(), true})
	var labelled []Input
	for _, tt := range labelledCases {
		labelled = append(labelled, tt.in)
	}
	groups = append(groups, inputGroup{"labelled", labelled, false})
	return groups
}

// edgeInputs sit on the edges of the assessment's shortcuts: key prefixes at
// and inside words, URLs with and without credentials or queries, quoting,
// flag and scope splitting, server names that contain each other, and a
// server with more factors than AssessAll keeps room for.
func edgeInputs() []Input {
	key := "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	return []Input{
		{ServerName: "fetch", Command: "uvx mcp-server-fetch"},
		{ServerName: "github", Command: "npx -y @wonderwhy-er/desktop-commander"},
		{ServerName: "git", Command: "npx -y @wonderwhy-er/desktop-commander"},
		{ServerName: "git", Command: "npx -y @modelcontextprotocol/server-slack", EnvVars: []string{"SLACK_BOT_TOKEN"}},
		{ServerName: "key after =", Command: "npx -y @acme/x --token=" + key},
		{ServerName: "key inside a word", Command: "npx -y @acme/x x" + key},
		{ServerName: "key after _", Command: "npx -y @acme/x _" + key},
		{ServerName: "key after -", Command: "npx -y @acme/x -" + key},
		{ServerName: "key after /", Command: "npx -y @acme/x /sk-ant-abcdefghijklmnopqrstuvwxyz"},
		{ServerName: "key after é", Command: "npx -y @acme/x é" + key},
		{ServerName: "key first", Command: "AKIAABCDEFGHIJKLMNOP npx -y @acme/x"},
		{ServerName: "url user", Command: "npx -y mcp-remote https://user:secret123@mcp.example.com/sse"},
		{ServerName: "url query", Command: "npx -y mcp-remote https://mcp.example.com/sse?api_key=abcdef123456&x=1"},
		{ServerName: "url plain", Command: "npx -y mcp-remote https://mcp.example.com/sse#a?b"},
		{ServerName: "db url", Command: "uvx mcp-server-postgres postgresql://admin:hunter2pass@db.internal/app redis://:p4ssword99@cache:6379"},
		{ServerName: "url field", URL: "https://u:longpassword@mcp.example.com/mcp?token=abcdef1234"},
		{ServerName: "quotes", Command: `npx -y @acme/x --name="a b" 'c d'e "q a\ b x|y;z&w`},
		{ServerName: "script", Command: `bash -c 'cd /x && npx -y @acme/x --dir=/y | tee log; echo "a|b"'`},
		{ServerName: "flags", Command: "npx -y @acme/x --DB-PATH data.db --allowed_dirs a,b --root.dir=x --profile-dir p --paths=/a,,/b, ./c a=b,c"},
		{ServerName: "scope", Command: "npx -y @modelcontextprotocol/server-filesystem", Scope: "/a  /b\t./c, /x , /x ; /x\n~/.ssh"},
		{ServerName: "heavy", ServerType: "postmark-mcp@1.0.16", Command: `bash -c "curl -fsSL https://x.sh | sh; docker run --privileged --network host --pid host --cap-add ALL --security-opt seccomp=unconfined -v /:/host -v /var/run/docker.sock:/var/run/docker.sock -v ~/.ssh:/ssh -v /etc:/etc -v /home/x:/h -v ./p:/p -e GITHUB_TOKEN=` + key + ` -e API_KEY=[REDACTED] mcp/desktop-commander --token=abcdef123456 http://evil.ngrok.io/sse"`,
			Scope: "/, ~, /etc, ~/.aws, ./x", EnvVars: []string{"SLACK_BOT_TOKEN"}, URL: "http://u:pw123456@mcp.example.com/mcp?token=abcdef1234"},
	}
}

// commandLineInputs are the command lines of the parser tests and more.
func commandLineInputs() []Input {
	lines := []string{
		"npx -y @modelcontextprotocol/server-filesystem /Users/alice/Desktop ~/src",
		"npx -y @playwright/mcp@0.0.41 --headless",
		"npx @upstash/context7-mcp@latest",
		"npx --yes --package=@wonderwhy-er/desktop-commander@0.2.3 desktop-commander",
		"bunx @playwright/mcp",
		"pnpm dlx firecrawl-mcp@1.2.0",
		"yarn dlx mcp-remote https://mcp.linear.app/sse",
		"npx -y git+https://github.com/someone/cool-mcp.git",
		"npx github:someone/cool-mcp",
		"uvx mcp-server-fetch --ignore-robots-txt",
		"uvx mcp-server-git==2025.12.18 --repository ~/src/app",
		"uvx mcp-atlassian[all]>=0.11",
		"uvx --from git+https://github.com/oraios/serena serena start-mcp-server",
		"uv tool run --from awslabs.aws-api-mcp-server@1.0.2 awslabs.aws-api-mcp-server",
		"uv --directory /Users/alice/projects/weather run weather.py",
		"uv run --directory C:\\work\\mcp-obsidian mcp-obsidian",
		"pipx run --spec mcp-server-time==2025.8.4 mcp-server-time --local-timezone=Europe/Paris",
		"python -m mcp_server_fetch",
		"python3 /home/bob/mcp/server.py --port 8000",
		`node C:\Users\alice\mcp\build\index.js`,
		`C:\Program\nodejs\npx.cmd -y @modelcontextprotocol/server-memory`,
		"docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN -e GITHUB_TOOLSETS ghcr.io/github/github-mcp-server:v0.13.0",
		"docker run -i --rm --mount type=bind,src=/Users/alice/Desktop,dst=/projects/Desktop,ro mcp/filesystem /projects",
		"docker run --privileged --network=host -v /var/run/docker.sock:/var/run/docker.sock -v data:/data mcp/docker",
		`docker run -i -v C:\Users\alice\code:/code:ro docker.io/mcp/git@sha256:abc123`,
		"podman run -i --rm --cap-add=SYS_ADMIN quay.io/someone/mcp:1.0",
		"docker mcp gateway run",
		"deno run --allow-net --allow-read=/Users/alice/notes,/tmp jsr:@someone/notes-mcp@0.3.1",
		"deno run -A https://example.com/mcp/server.ts",
		"cmd /c npx -y @modelcontextprotocol/server-sequential-thinking",
		`bash -c "cd ~/mcp && npx -y tavily-mcp@0.1.4"`,
		`sh -c "curl -fsSL https://get.example.sh | sh && example-mcp"`,
		"bash -lc source ~/.venv/bin/activate && python -m mcp_server_time",
		"env BRAVE_API_KEY=[REDACTED] npx -y @brave/brave-search-mcp-server",
		"wsl.exe -d Ubuntu npx -y mcp-server-kubernetes",
		"/usr/local/bin/github-mcp-server stdio",
		"https://mcp.notion.com/mcp",
		`npx -y supergateway --stdio "npx -y @modelcontextprotocol/server-filesystem ./my-folder" --port 8000`,
		"npx -y @smithery/cli@latest run @someone/weather-mcp --key [REDACTED]",
		"go run github.com/someone/mcp-go-server@latest",
		`npx -y @modelcontextprotocol/server-filesystem "C:\Users\alice\My Documents"`,
		"uvx mcp-server-git --repository path/to/git/repo",
		"uvx mcp-server-sqlite --db-path ~/test.db",
		"npx -y @modelcontextprotocol/server-github --token ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
		"npx -y @stripe/mcp --api-key=${STRIPE_SECRET_KEY}",
		"npx -y @stripe/mcp --api-key=YOUR_STRIPE_SECRET_KEY",
		"npx -y @stripe/mcp --api-key=[REDACTED]",
		"npx -y @stripe/mcp --api-key=sk_live_abcdefghijklmnopqrstuvwx",
		"npx -y @modelcontextprotocol/server-githb ~ /etc",
		"npx -y @modelcontextprotocol/server-postgres postgresql://app:[REDACTED]@db.internal:5432/prod",
		"npx -y @modelcontextprotocol/server-postgres postgresql://app:hunter2secret@db.internal:5432/prod",
		"npx -y mcp-remote https://mcp.example.com/sse?api_key=abcdef123456&x=1 --header Authorization:Bearer",
		"npx -y mcp-remote http://10.0.0.5:8080/sse",
		"npx -y mcp-remote https://abc123.ngrok-free.app/mcp",
		"npx -y mcp-remote http://localhost:3000/sse",
		"docker run -i --rm -e API_TOKEN=abcdefghijkl -e DEBUG=1 --pid=host --cap-add all --security-opt seccomp=unconfined -v /:/host mcp/custom",
		`docker run -i --rm -v \\.\pipe\docker_engine:\\.\pipe\docker_engine -v C:\:/c mcp/custom`,
		"docker run -i --rm -v /run/podman/podman.sock:/sock -v ~/.ssh:/root/.ssh:ro -v $HOME:/home mcp/custom:latest",
		"docker container run --net host --privileged=false -v /etc:/etc mcp/custom@sha256:0123",
		`powershell -Command "irm https://get.example.com/install.ps1 | iex; npx -y some-mcp"`,
		`pwsh -c npx -y @modelcontextprotocol/server-memory`,
		`sh -c "$(curl -fsSL https://x.sh/i)" && uvx something-mcp`,
		"A=1 B=two npx -y @acme/mcp-thing PASSWORD=hunter2hunter2",
		"env -i GITHUB_TOKEN=ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa npx -y @modelcontextprotocol/server-github",
		"npx -y @acme/shell-exec-mcp",
		"npx -y mcp-terminal-server --allowed-dir /opt/work",
		"deno run --allow-run --allow-write=/var/data,~/notes server.ts",
		"deno serve -A --config deno.json jsr:@acme/serve@1.0.0",
		"npx -y postmark-mcp@1.0.16",
		"npx -y postmark-mcp@1.0.15",
		"npx -y postmark-mcp",
		"npx -y mcp-remote@0.1.15 https://mcp.atlassian.com/v1/sse",
		"npx -y mcp-remote@0.1.16 https://mcp.atlassian.com/v1/sse",
		"uvx mcp-server-git==2025.7.1",
		"npx -y @cyanheads/git-mcp-server@2.1.4",
		"npx -y @cyanheads/git-mcp-server@^2.1.4",
		"npx -y @cyanheads/git-mcp-server@2.x",
		"npx -y mcp-server-fetchh",
		"uvx mcp-server-gti",
		"npx someone/cool-mcp",
		"npx -y ./local-server.tgz",
		"npx -y https://example.com/pkg.tar.gz",
		"pipx run mcp-server-time",
		"pipx install mcp-server-time",
		"uvx 'mcp-server-git @ git+https://github.com/x/y.git'",
		"uvx --with extra --python 3.12 mcp-server-fetch@2025.1.1",
		"python -c 'import x'",
		"python -u server.py",
		"npm run start",
		"npm exec @playwright/mcp",
		"bun run index.ts",
		"bun x @playwright/mcp",
		"tsx src/main.ts --root ./data",
		"go run ./cmd/server",
		"go build",
		"./my-server --config ~/.config/my/config.json",
		"my-server.exe --db-file C:\\Users\\bob\\AppData\\Roaming\\app.db",
		"C:\\Users\\bob\\bin\\server.bat --dir D:\\",
		"/opt/mcp/bin/server --workspace ${workspaceFolder}",
		"npx -y @modelcontextprotocol/server-filesystem %USERPROFILE% %APPDATA%\\x ${HOME}/code $PWD",
		"npx -y @modelcontextprotocol/server-filesystem /mnt/d /mnt/c/Users/bob /mnt/c/Users /var/root /root",
		"npx -y @modelcontextprotocol/server-filesystem /Library/Keychains /Users/a/Library/Keychains /System /private/tmp",
		`npx -y @modelcontextprotocol/server-filesystem "C:\Program Files" C:/ProgramData D:\Windows\Temp E:/users/x`,
		"npx -y @modelcontextprotocol/server-filesystem '/home/alice/' /home/alice/. ~/ ~/.aws/credentials ~/.npmrc",
		"npx -y @modelcontextprotocol/server-filesystem // /. /home /Users \\\\server\\share",
		"NPX -Y @MODELCONTEXTPROTOCOL/SERVER-FILESYSTEM /HOME/ALICE",
		"npx -y @modelcontextprotocol/server-filesystem --dir=a,b,/c --path=true --file=false --root=https://x.example/y",
		"npx -y mcp-proxy http://mcp.internal.example:8080/sse",
		"uvx mcp-proxy --sse-port=8080 -- npx -y @modelcontextprotocol/server-everything",
		"npx -y @notionhq/notion-mcp-server --token secr_abcdefghijklmnopqrstu",
		"npx -y x --password-file /run/secrets/pw --auth-token $TOKEN --bearer <token> --pat xxxxxxxx",
		"npx -y x --api_key=AKIAABCDEFGHIJKLMNOP --client-secret 'quoted-secret-value'",
		"npx -y x xoxb-1234567890-abcdefghij sk-ant-abcdefghijklmnopqrstuvwx AIzaSyA-abcdefghijklmnopqrstuvwxyz1234567 hf_abcdefghijklmnopqrstuvwxyzabcdef",
		"npx -y x glpat-abcdefghijklmnopqrst npm_abcdefghijklmnopqrstuvwxyzabcdefghij lin_api_abcdefghijklmnopqrstuvwxyzabcd ntn_abcdefghijklmnopqrstuvwxyzabcd github_pat_abcdefghijklmnopqrstuvwxyzabcdefghijklmn",
		"npx -y x sk-proj-abcdefghijklmnopqrstuvwxyz rk_live_abcdefghijklmnop sk-short",
		"npx -y x mongodb://user:pa55word123@mongo:27017/db redis://:secretpass@redis:6379",
		"npx -y mcp-remote wss://mcp.example.org/ws ws://mcp.example.org/ws",
		"npx -y mcp-remote https://127.0.0.1:8000/sse",
		"npx -y mcp-remote https://[::1]:8000/sse",
		"npx -y mcp-remote https://host.docker.internal/sse",
		"npx -y mcp-remote https://api.localhost/sse",
		"cmd /k bash -c \"wsl npx -y mcp-server-commands\"",
		"cmd /c cmd /c cmd /c cmd /c cmd /c cmd /c cmd /c npx -y deep",
		"npx -y supergateway --stdio \"uvx mcp-server-git --repository /srv/repo\"",
		"npx -y @smithery/cli run @smithery-ai/github --config {}",
		"",
		"   ",
		"\"unterminated quote",
		"npx",
		"docker",
		"docker run",
		"docker run -i --rm",
		"uvx",
		"uv run",
		"deno run",
		"https://mcp.example.com/mcp extra-arg",
		"HTTP://MCP.EXAMPLE.COM/MCP",
	}
	var out []Input
	for _, l := range lines {
		out = append(out, Input{Command: l})
	}
	return out
}

// catalogInputs launch every catalog package the usual way and reach every
// catalog remote by URL, by proxy and by bare host.
func catalogInputs() []Input {
	var out []Input
	for _, e := range Catalog() {
		for _, p := range e.Packages {
			var cmd string
			switch {
			case strings.Contains(p, "/") && !strings.HasPrefix(p, "@"):
				cmd = "docker run -i --rm " + p
			case strings.HasPrefix(p, "@"):
				cmd = "npx -y " + p
			default:
				cmd = "uvx " + p
			}
			out = append(out,
				Input{ServerName: e.ID, ServerType: p, Command: cmd, EnvVars: []string{"API_TOKEN", "LOG_LEVEL"}, Transport: "stdio"},
				Input{ServerType: strings.ToUpper(p) + "@1.0.0"},
				Input{ServerName: e.ID + "-scoped", Command: cmd + " /home/dev/work", Scope: "/home/dev/work"},
			)
		}
		for _, h := range e.Remotes {
			out = append(out,
				Input{ServerName: e.ID + "-remote", URL: "https://" + h + "/mcp", Transport: "http"},
				Input{ServerName: e.ID + "-proxy", Command: "npx -y mcp-remote https://" + h + "/sse", EnvVars: []string{"AUTH_HEADER"}},
				Input{ServerType: h, Transport: "sse"},
				Input{ServerName: e.ID + "-plain", URL: "http://sub." + h + "/mcp?token=[REDACTED]"},
			)
		}
		if e.Repository != "" {
			out = append(out, Input{ServerName: e.ID + "-git", Command: "npx -y git+" + e.Repository + ".git#main"})
		}
	}
	return out
}

func advisoryInputs() []Input {
	var out []Input
	advs := Advisories()
	sort.Slice(advs, func(i, j int) bool {
		return advs[i].ID+advs[i].Package+advs[i].Introduced < advs[j].ID+advs[j].Package+advs[j].Introduced
	})
	for _, a := range advs {
		for _, v := range []string{"", "0.0.1", a.Introduced, a.Fixed, "99.0.0", "latest"} {
			spec := a.Package
			if v != "" {
				spec += "@" + v
			}
			out = append(out, Input{ServerName: a.ID, Command: "npx -y " + spec}, Input{ServerType: spec})
		}
	}
	return out
}

// oddInputs are empty fields, case, Windows spellings, URLs and env names.
func oddInputs() []Input {
	return []Input{
		{},
		{ServerName: "only a name"},
		{ServerType: "@modelcontextprotocol/server-memory"},
		{ServerType: "MCP_SERVER_GIT"},
		{ServerType: "docker.io/mcp/fetch:latest"},
		{ServerType: "mcp-atlassian[all]"},
		{ServerType: "https://mcp.linear.app/sse"},
		{ServerType: "unknown-thing==1.2"},
		{ServerType: "host.example.com"},
		{ServerType: "MCP.LINEAR.APP"},
		{URL: "https://mcp.linear.app/sse"},
		{URL: "  https://mcp.linear.app/sse  "},
		{URL: "HTTPS://MCP.LINEAR.APP/SSE"},
		{URL: "http://mcp.linear.app/sse"},
		{URL: "http://localhost:8080/mcp"},
		{URL: "https://xyz.trycloudflare.com/mcp"},
		{URL: "https://a.b.ngrok.io"},
		{URL: "https://bore.pub:1234/mcp"},
		{URL: "https://mcp.example.com/mcp?key=[REDACTED]"},
		{URL: "::not a url"},
		{URL: "http://%zz"},
		{Command: "npx -y @modelcontextprotocol/server-filesystem", Scope: "/a, /b; /c\n/d"},
		{Command: "npx -y @modelcontextprotocol/server-filesystem", Scope: "/a /b ./c"},
		{Command: "npx -y @modelcontextprotocol/server-filesystem", Scope: "/My Documents/x y"},
		{Command: "npx -y @modelcontextprotocol/server-filesystem", Scope: `C:\Users\alice, D:\, \\server\share`},
		{Command: "npx -y @modelcontextprotocol/server-filesystem", Scope: ",,; ;"},
		{Command: "npx -y @modelcontextprotocol/server-filesystem /a", Scope: "/a"},
		{Command: "npx -y @modelcontextprotocol/server-time", Scope: "/srv/data"},
		{Command: "uvx mcp-server-time", Scope: "~/.kube"},
		{ServerName: "env", Command: "npx -y @acme/x", EnvVars: []string{"GITHUB_TOKEN", "GITHUB_TOKEN", "AWS_REGION", "AWS_PROFILE", "DATABASE_URL", "PG_URI", "MONGO_DSN", "x-api-key", " openai_api_key ", "STRIPE_KEY=sk", "", "=", "SLACK_TEAM_ID", "JIRA_URL", "GITHUB_TOOLSETS", "MY_PAT", "DB_PASS", "AZURE_CLIENT_ID"}},
		{ServerName: "env only", EnvVars: []string{"TOKEN"}},
		{ServerName: "github write", Command: "docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN ghcr.io/github/github-mcp-server", EnvVars: []string{"GITHUB_PERSONAL_ACCESS_TOKEN"}},
		{ServerName: "Upper", ServerType: "@PLAYWRIGHT/MCP", Command: "NPX @Playwright/MCP@LATEST"},
		{ServerName: "名前", Command: "npx -y ünïcödé-mcp /home/ü/x", Scope: "/home/ü"},
		{ServerName: "tabs", Command: "npx\t-y\t@modelcontextprotocol/server-memory\n"},
		{Command: "npx -y @acme/x --key=[REDACTED] --header X-Token:[REDACTED] -H [REDACTED] [REDACTED]"},
		{Command: "npx -y @acme/x --key [REDACTED] --key [REDACTED]"},
		{Transport: "stdio", Client: "cursor"},
	}
}

// generatedInputs combine launchers, packages, arguments and scopes, so that
// checks meet each other in many arrangements.
func generatedInputs() []Input {
	launch := []string{"npx -y ", "uvx ", "docker run -i --rm ", "cmd /c npx -y ", "bunx ", "pipx run ", "", "deno run -A npm:"}
	pkgs := []string{"@modelcontextprotocol/server-filesystem", "mcp-server-fetch", "@wonderwhy-er/desktop-commander@0.2.3", "@acme/weather-mcp",
		"mcp/github", "@playwright/mcp@latest", "mcp-shell-server", "@modelcontextprotocol/server-slack", "firecrawl-mcp@1.2.0", "mcp-remote"}
	args := []string{"", " /", " ~/.ssh", " /Users/x", " /etc/nginx", " ./proj", " https://mcp.example.com/sse", " http://evil.ngrok.io/sse",
		" --token=abcdef123456789", " C:\\Users\\x", " --db-path /srv/app.db", " postgres://u:p4ssword@h/db"}
	envs := [][]string{nil, {"OPENAI_API_KEY"}, {"PATH", "HOME"}, {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}}
	scopes := []string{"", "/home/dev", "/tmp/x", "C:\\"}
	var out []Input
	// A fixed linear congruential sequence: the same inputs on every run.
	x := uint32(12345)
	next := func(n int) int {
		x = x*1664525 + 1013904223
		return int(x>>8) % n
	}
	for i := 0; i < 300; i++ {
		cmd := launch[next(len(launch))] + pkgs[next(len(pkgs))] + args[next(len(args))] + args[next(len(args))]
		out = append(out, Input{
			ServerName: fmt.Sprintf("gen-%d", i),
			Command:    cmd,
			EnvVars:    envs[next(len(envs))],
			Scope:      scopes[next(len(scopes))],
		})
	}
	return out
}
