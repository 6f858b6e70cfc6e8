package discovery

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
)

// decodeFile is decode for a configuration file, with the shapes that are not a map of servers
// turned into one: JetBrains AI Assistant's XML settings, and a Claude Desktop extension's
// manifest, which describes one server.
func decodeFile(data []byte, file, format string) (map[string]any, error) {
	if format == "xml" {
		return jetBrainsXML(data)
	}
	doc, err := decode(data, format)
	if err != nil {
		return nil, err
	}
	if s, ok := extensionServer(doc, file); ok {
		return s, nil
	}
	return doc, nil
}

// extensionServer reads a Claude Desktop extension's manifest.json (the .mcpb, formerly .dxt,
// format): its server.mcp_config is the launch. ${__dirname} (the extension's folder, which
// config_path names) is kept as written, so that a server reads the same wherever the home is.
// The values of ${user_config.*} placeholders are kept in Claude's own settings, which are not
// read: they hold the extension's secrets.
func extensionServer(doc map[string]any, file string) (map[string]any, bool) {
	server, ok := doc["server"].(map[string]any)
	if !ok {
		return nil, false
	}
	cfg, ok := server["mcp_config"].(map[string]any)
	if !ok {
		return nil, false
	}
	name, _ := doc["name"].(string)
	if name == "" {
		name = path.Base(path.Dir(filepath.ToSlash(file)))
	}
	return map[string]any{"mcpServers": map[string]any{name: cfg}}, true
}

// jetBrainsXML reads JetBrains AI Assistant's MCP settings: the component
// McpApplicationServerCommands of options/llm.mcpServers.xml (each IDE's configuration folder)
// or McpProjectServerCommands of a project's .idea/workspace.xml. An entry is a
// McpServerCommand (directly in the component, or under <commands> and <urls>) of options
// name, programPath or command, arguments (one string) and url, with environment variables
// under <envs><env name value/>. From 2025.3 the IDE keeps the definitions in .ai/mcp/mcp.json
// and entries here hold only a name and state: those are skipped.
func jetBrainsXML(data []byte) (map[string]any, error) {
	root, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	servers := map[string]any{}
	for _, top := range root.kids {
		for _, comp := range top.kids {
			if n := comp.attr("name"); comp.name != "component" || n != "McpApplicationServerCommands" && n != "McpProjectServerCommands" {
				continue
			}
			for _, e := range comp.kids {
				entries := []*xmlNode{e}
				if e.name == "commands" || e.name == "urls" {
					entries = e.kids
				}
				for _, entry := range entries {
					if name, s := jetBrainsServer(entry); s != nil {
						servers[name] = s
					}
				}
			}
		}
	}
	return map[string]any{"mcpServers": servers}, nil
}

func jetBrainsServer(e *xmlNode) (string, map[string]any) {
	opts := map[string]string{}
	env := map[string]any{}
	for _, o := range e.kids {
		switch {
		case o.name == "option" && o.has("value"):
			opts[o.attr("name")] = o.attr("value")
		case o.name == "envs" || o.name == "option" && o.attr("name") == "envs":
			for _, kv := range o.all() {
				if k := firstNonEmptyAttr(kv, "name", "key"); k != "" && kv.has("value") {
					env[k] = kv.attr("value")
				}
			}
		}
	}
	s := map[string]any{}
	if cmd := firstNonEmptyString(opts["programPath"], opts["command"]); cmd != "" {
		s["command"] = cmd
		if args := strings.Fields(opts["arguments"]); len(args) > 0 {
			list := make([]any, len(args))
			for i, a := range args {
				list[i] = a
			}
			s["args"] = list
		}
	}
	if u := firstNonEmptyString(opts["url"], opts["serverUrl"]); u != "" {
		s["url"] = u
	}
	if opts["name"] == "" || len(s) == 0 {
		return "", nil
	}
	if len(env) > 0 {
		s["env"] = env
	}
	if opts["enabled"] == "false" {
		s["disabled"] = true
	}
	return opts["name"], s
}

// xmlNode is one element of an XML document.
type xmlNode struct {
	name  string
	attrs []xml.Attr
	kids  []*xmlNode
}

func (n *xmlNode) attr(name string) string {
	for _, a := range n.attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *xmlNode) has(name string) bool {
	for _, a := range n.attrs {
		if a.Name.Local == name {
			return true
		}
	}
	return false
}

// all lists the node's descendants, depth first.
func (n *xmlNode) all() []*xmlNode {
	var out []*xmlNode
	for _, k := range n.kids {
		out = append(out, k)
		out = append(out, k.all()...)
	}
	return out
}

func firstNonEmptyAttr(n *xmlNode, names ...string) string {
	for _, a := range names {
		if v := n.attr(a); v != "" {
			return v
		}
	}
	return ""
}

func firstNonEmptyString(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// maxXMLDepth bounds the nesting of a settings file; JetBrains' are a few levels deep.
const maxXMLDepth = 32

// parseXML reads a document into a tree under an unnamed root. encoding/xml reads no DTD and
// expands only the predefined entities, so a file can neither include another nor grow.
func parseXML(data []byte) (*xmlNode, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	stack := []*xmlNode{{}}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxXMLDepth {
				return nil, errors.New("invalid XML: nested too deep")
			}
			n := &xmlNode{name: t.Name.Local, attrs: t.Copy().Attr}
			parent := stack[len(stack)-1]
			parent.kids = append(parent.kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 1 {
		return nil, errors.New("invalid XML: unclosed element")
	}
	return stack[0], nil
}
