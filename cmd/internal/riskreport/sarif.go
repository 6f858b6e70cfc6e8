package riskreport

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/impl/risk"
)

// SARIFSchema is the schema the SARIF output names; testdata holds a copy the tests validate
// against.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// Tool names the program in a SARIF log.
type Tool struct {
	Name, Version, InformationURI string
}

// Notice is a file that could not be read, reported beside the results.
type Notice struct {
	Path, Message string
}

// SARIF 2.1.0 objects, with only the properties this output uses.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool               sarifTool                   `json:"tool"`
		OriginalURIBaseIDs map[string]sarifArtifactLoc `json:"originalUriBaseIds,omitempty"`
		Invocations        []sarifInvocation           `json:"invocations"`
		Results            []sarifResult               `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string            `json:"id"`
		ShortDescription     sarifText         `json:"shortDescription"`
		FullDescription      sarifText         `json:"fullDescription"`
		Help                 sarifText         `json:"help"`
		DefaultConfiguration sarifRuleConfig   `json:"defaultConfiguration"`
		Properties           sarifRuleProperty `json:"properties"`
	}
	sarifRuleConfig struct {
		Level string `json:"level"`
	}
	sarifRuleProperty struct {
		Tags             []string `json:"tags"`
		SecuritySeverity string   `json:"security-severity"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifInvocation struct {
		ExecutionSuccessful bool                `json:"executionSuccessful"`
		Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
	}
	sarifNotification struct {
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations,omitempty"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifText         `json:"message"`
		Locations           []sarifLocation   `json:"locations"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
		Properties          sarifResultProps  `json:"properties"`
	}
	sarifResultProps struct {
		Server    string `json:"server"`
		Client    string `json:"client,omitempty"`
		RiskLevel string `json:"riskLevel"`
		RiskScore int    `json:"riskScore"`
		Evidence  string `json:"evidence,omitempty"`
	}
	sarifLocation struct {
		Physical sarifPhysical  `json:"physicalLocation"`
		Logical  []sarifLogical `json:"logicalLocations,omitempty"`
	}
	sarifPhysical struct {
		Artifact sarifArtifactLoc `json:"artifactLocation"`
		Region   *sarifRegion     `json:"region,omitempty"`
	}
	sarifArtifactLoc struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId,omitempty"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
	}
	sarifLogical struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	}
)

// sarifLevel and securitySeverity place risk severities on SARIF's levels and on the 0-10
// scale code-scanning services sort security results by.
var (
	sarifLevel       = map[string]string{risk.Critical: "error", risk.High: "error", risk.Medium: "warning", risk.Low: "note"}
	securitySeverity = map[string]string{risk.Critical: "9.5", risk.High: "8.0", risk.Medium: "5.5", risk.Low: "2.0"}
)

// srcRoot is the base of the URIs of files under the directory the scan ran in, so that a
// repository's CI sees its own paths.
const srcRoot = "SRCROOT"

// WriteSARIF writes one SARIF 2.1.0 run: a result for each factor of each server, located at its
// configuration file (and the server's line in it, when the name is found), and a notification
// for each file that could not be read. Paths under base are relative to it.
func WriteSARIF(w io.Writer, files []File, notices []Notice, tool Tool, base string) error {
	run := sarifRun{
		Tool:        sarifTool{Driver: sarifDriver{Name: tool.Name, Version: tool.Version, InformationURI: tool.InformationURI, Rules: []sarifRule{}}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: true}},
		Results:     []sarifResult{},
	}
	if base != "" {
		if abs, err := filepath.Abs(base); err == nil {
			base = abs
			run.OriginalURIBaseIDs = map[string]sarifArtifactLoc{srcRoot: {URI: fileURI(abs) + "/"}}
		}
	}
	ruleIndex := map[string]int{}
	for _, f := range files {
		lines := serverLines(f.Path, f.Servers)
		for i, srv := range f.Servers {
			a := f.Assessments[i]
			for _, fac := range a.Factors {
				idx, ok := ruleIndex[fac.ID]
				if !ok {
					idx = len(run.Tool.Driver.Rules)
					ruleIndex[fac.ID] = idx
					run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(fac))
				}
				loc := location(f.Path, base)
				if n := lines[srv.ServerName]; n > 0 {
					loc.Physical.Region = &sarifRegion{StartLine: n}
				}
				loc.Logical = []sarifLogical{{Name: srv.ServerName, Kind: "member"}}
				text := srv.ServerName + ": " + fac.Title
				if fac.Evidence != "" {
					text += " (" + fac.Evidence + ")"
				}
				text += ". " + fac.Detail
				client := ""
				if srv.Client != nil {
					client = *srv.Client
				}
				sum := sha256.Sum256([]byte(f.Path + "\x00" + srv.ServerName + "\x00" + fac.ID))
				run.Results = append(run.Results, sarifResult{
					RuleID: fac.ID, RuleIndex: idx, Level: sarifLevel[fac.Severity],
					Message:             sarifText{Text: text},
					Locations:           []sarifLocation{loc},
					PartialFingerprints: map[string]string{"mcpwardenServerRule/v1": hex.EncodeToString(sum[:16])},
					Properties:          sarifResultProps{Server: srv.ServerName, Client: client, RiskLevel: a.Level, RiskScore: a.Score, Evidence: fac.Evidence},
				})
			}
		}
	}
	for _, n := range notices {
		run.Invocations[0].Notifications = append(run.Invocations[0].Notifications, sarifNotification{
			Level: "warning", Message: sarifText{Text: "could not be read: " + n.Message}, Locations: []sarifLocation{location(n.Path, base)},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}

func sarifRuleFor(f risk.Factor) sarifRule {
	t, ok := risk.Template(f.ID)
	if !ok {
		t = risk.Factor{ID: f.ID, Severity: f.Severity, Title: f.Title, Detail: f.Detail}
	}
	return sarifRule{
		ID: t.ID, ShortDescription: sarifText{Text: t.Title}, FullDescription: sarifText{Text: t.Detail}, Help: sarifText{Text: t.Detail},
		DefaultConfiguration: sarifRuleConfig{Level: sarifLevel[t.Severity]},
		Properties:           sarifRuleProperty{Tags: []string{"security", "mcp"}, SecuritySeverity: securitySeverity[t.Severity]},
	}
}

// location is path relative to base when it is under it, else an absolute file URI.
func location(path, base string) sarifLocation {
	if base != "" {
		if rel, err := filepath.Rel(base, path); err == nil && filepath.IsAbs(path) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return sarifLocation{Physical: sarifPhysical{Artifact: sarifArtifactLoc{URI: (&url.URL{Path: filepath.ToSlash(rel)}).String(), URIBaseID: srcRoot}}}
		}
	}
	if abs, err := filepath.Abs(path); err == nil {
		return sarifLocation{Physical: sarifPhysical{Artifact: sarifArtifactLoc{URI: fileURI(abs)}}}
	}
	return sarifLocation{Physical: sarifPhysical{Artifact: sarifArtifactLoc{URI: (&url.URL{Path: filepath.ToSlash(path)}).String()}}}
}

func fileURI(abs string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive: file:///C:/...
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// serverLines finds the first line of path that names each server as a key ("name": in JSON,
// name: in YAML, .name] or "name"] in TOML), for annotations on the right line; a server not
// found has no line.
func serverLines(path string, servers []db.ReportServer) map[string]int {
	out := map[string]int{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		for _, srv := range servers {
			name := srv.ServerName
			if out[name] != 0 {
				continue
			}
			if strings.Contains(line, `"`+name+`":`) || strings.Contains(line, `"`+name+`" :`) || strings.HasPrefix(line, name+":") ||
				strings.HasSuffix(line, "."+name+"]") || strings.HasSuffix(line, `"`+name+`"]`) {
				out[name] = n
			}
		}
	}
	return out
}
