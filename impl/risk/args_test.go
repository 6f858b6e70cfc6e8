package risk

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// factorOf is rule id's factor as the rule table words it, with evidence.
func factorOf(id, evidence string) Factor {
	f := factorTemplate[id]
	f.Evidence = evidence
	return f
}

// An argument that holds a space is one argument when the vector is given: a folder is judged
// as the folder it is, where the command line joined from the vector splits it in two.
func TestArgsKeepAnArgumentWithSpacesWhole(t *testing.T) {
	unpinnedFS := factorOf(RuleUnpinned, "@modelcontextprotocol/server-filesystem (no version)")
	officialFS := factorOf(RuleOfficial, "@modelcontextprotocol/server-filesystem")
	tests := []struct {
		name    string
		args    []string
		command Command
		want    Assessment
		// asLine: the command line joined from args reads the same (a script is split anyway).
		asLine bool
	}{
		{
			name: "npx filesystem given a folder whose name starts with a space",
			args: []string{"npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes"},
			command: Command{Runner: "npx", Ecosystem: "npm", Package: "@modelcontextprotocol/server-filesystem",
				Spec: "@modelcontextprotocol/server-filesystem", Fetched: true,
				Args: []string{"/home/me/ my notes"}, Paths: []string{"/home/me/ my notes"}},
			want: Assessment{Score: 42, Level: Medium, Factors: []Factor{
				factorOf(RuleFSProject, "/home/me/ my notes"), unpinnedFS, officialFS}},
		},
		{
			name: "cmd /c keeps a Windows folder with a space whole",
			args: []string{"cmd", "/c", "npx", "-y", "@modelcontextprotocol/server-filesystem", `C:\Users\alice\My Documents`},
			command: Command{Runner: "npx", Ecosystem: "npm", Package: "@modelcontextprotocol/server-filesystem",
				Spec: "@modelcontextprotocol/server-filesystem", Fetched: true, Wrappers: []string{"cmd /c"},
				Args: []string{`C:\Users\alice\My Documents`}, Paths: []string{`C:\Users\alice\My Documents`}},
			want: Assessment{Score: 42, Level: Medium, Factors: []Factor{
				factorOf(RuleFSProject, `C:\Users\alice\My Documents`), unpinnedFS, officialFS}},
		},
		{
			name: "docker bind mount of a folder with a space",
			args: []string{"docker", "run", "-i", "--rm", "-v", "/Users/me/My Files:/data", "mcp/filesystem", "/data"},
			command: Command{Runner: "docker", Ecosystem: "docker", Package: "mcp/filesystem", Spec: "mcp/filesystem", Fetched: true,
				Args: []string{"/data"}, Paths: []string{"/data"},
				Container: Container{Mounts: []Mount{{Host: "/Users/me/My Files", Target: "/data"}}}},
			want: Assessment{Score: 42, Level: Medium, Factors: []Factor{
				factorOf(RuleFSProject, "/data; /Users/me/My Files"),
				factorOf(RuleUnpinned, "mcp/filesystem (no version)"), factorOf(RuleOfficial, "mcp/filesystem")}},
		},
		{
			name: "bash -c script given as one argument is still split into words",
			args: []string{"bash", "-c", "cd /x && npx -y @acme/x --dir=/y"},
			command: Command{Runner: "npx", Ecosystem: "npm", Package: "@acme/x", Spec: "@acme/x", Fetched: true,
				Wrappers: []string{"bash -c"}, Args: []string{"--dir=/y"}, Paths: []string{"/y"}},
			want: Assessment{Score: 73, Level: High, Factors: []Factor{
				factorOf(RuleUnpinnedUnknown, "@acme/x (no version)"), factorOf(RuleUnknownServer, "@acme/x"),
				factorOf(RuleFSProject, "/y")}},
			asLine: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.command, ParseArgs(tt.args)); diff != "" {
				t.Errorf("ParseArgs(%q) (-want +got):\n%s", tt.args, diff)
			}
			in := Input{ServerName: "s", Command: strings.Join(tt.args, " "), Args: tt.args}
			if diff := cmp.Diff(tt.want, Assess(in)); diff != "" {
				t.Errorf("Assess (-want +got):\n%s", diff)
			}
			// Without the vector the joined command line is all there is, and it reads otherwise.
			if line := Assess(Input{ServerName: "s", Command: in.Command}); cmp.Equal(line, tt.want) != tt.asLine {
				t.Errorf("the command line alone is assessed %d %s %v", line.Score, line.Level, factorIDs(line))
			}
			// The vector alone says what the command line and the vector say together.
			if diff := cmp.Diff(tt.want, Assess(Input{ServerName: "s", Args: tt.args})); diff != "" {
				t.Errorf("Assess without Command (-want +got):\n%s", diff)
			}
		})
	}
}

// Where no argument holds white space, the vector and the command line it joins to are the same
// words, and must be parsed and assessed alike: over every input of the golden file.
func TestArgsAgreeWithTheCommandLineTheyJoinTo(t *testing.T) {
	checked := 0
	for _, g := range goldenInputs() {
		for _, in := range g.inputs {
			args := splitArgs(strings.TrimSpace(in.Command), false)
			if len(args) == 0 || strings.ContainsFunc(strings.Join(args, ""), isSpaceRune) {
				continue
			}
			checked++
			if diff := cmp.Diff(ParseCommand(in.Command), ParseArgs(args)); diff != "" {
				t.Errorf("%s: %q: ParseArgs differs from ParseCommand (-command +args):\n%s", g.name, in.Command, diff)
			}
			withArgs := in
			withArgs.Args = args
			if diff := cmp.Diff(Assess(in), Assess(withArgs)); diff != "" {
				t.Errorf("%s: %q: assessed differently with its vector (-command +args):\n%s", g.name, in.Command, diff)
			}
		}
	}
	t.Logf("%d golden inputs checked", checked)
	if checked < 500 {
		t.Errorf("only %d golden inputs checked; the golden file holds thousands", checked)
	}
}

func isSpaceRune(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
