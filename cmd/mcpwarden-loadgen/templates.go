package main

import (
	"bytes"
	"os"
)

// profilePlaceholder stands for the --profile suffix in the bodies --report-templates writes. It
// needs no escaping in JSON, so it appears in the bodies as it is.
const profilePlaceholder = "@PROFILE@"

// reportTemplates is what --report-templates writes, so that drivers other than this program
// (the bench's wrk scripts) send exactly its reports: four lines, the placeholder, the body of
// every even revision and the body of every odd revision, each with the placeholder where
// profileSuffix(nonce, idx, rev) goes, and the baseline every agent is primed with (an unchanged
// report). A driver picks its own nonce per run, as this program does, and numbers revisions
// from 1.
func reportTemplates(servers int) []byte {
	s := &simulation{o: options{servers: servers}}
	var b bytes.Buffer
	b.WriteString(profilePlaceholder + "\n")
	for _, rev := range []int{2, 1} {
		b.Write(s.reportBodyProfile(0, rev, profilePlaceholder))
		b.WriteByte('\n')
	}
	b.Write(s.reportBodyProfile(0, 0, ""))
	b.WriteByte('\n')
	return b.Bytes()
}

func writeReportTemplates(path string, servers int) error {
	return os.WriteFile(path, reportTemplates(servers), 0o644)
}
