package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
)

// TestSettledAgreesWithCheckIdentity: the steady heartbeat's check on fingerprints (settled)
// answers as checkIdentity and sameMeta do on the stored state itself, for every combination of
// stored and sent hostname, machine and version, and of a sharing caught recently, long ago or
// never.
func TestSettledAgreesWithCheckIdentity(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	recent, old := now.Add(-time.Minute), now.Add(-time.Hour)
	str := func(v string) *string { return &v }
	hosts := []*string{nil, str("a.local"), str("b.local"), str("")}
	machines := []*string{nil, str("m1"), str("m2")}
	versions := []*string{nil, str("0.1.0"), str("0.1.1")}
	shared := []*time.Time{nil, &recent, &old}
	show := func(v *string) string {
		if v == nil {
			return "nil"
		}
		return fmt.Sprintf("%q", *v)
	}
	checked, agreed := 0, 0
	for _, storedHost := range hosts {
		for _, storedMachine := range machines {
			for _, storedVersion := range versions {
				for _, sharedAt := range shared {
					s := db.AgentState{AgentMeta: db.AgentMeta{Hostname: storedHost, AgentVersion: storedVersion}, MachineID: storedMachine, KeySharedAt: sharedAt}
					st := &agentState{}
					st.setStored(s)
					for _, host := range hosts {
						for _, machine := range machines {
							for _, version := range versions {
								meta := db.AgentMeta{Hostname: host, AgentVersion: version}
								id := Identity{MachineID: machine, Hostname: host}
								c := checkIdentity(s, id, now)
								want := !c.other && !c.refuse && !c.bind && sameMeta(s.AgentMeta, meta)
								checked++
								if got := st.settled(meta, id, now); got != want {
									t.Errorf("stored host %s machine %s version %s shared %v; sent host %s machine %s version %s: settled %v, checkIdentity says %v",
										show(storedHost), show(storedMachine), show(storedVersion), sharedAt, show(host), show(machine), show(version), got, want)
								} else if want {
									agreed++
								}
							}
						}
					}
				}
			}
		}
	}
	if agreed == 0 {
		t.Fatalf("none of %d combinations is settled: the test checks nothing", checked)
	}
	t.Logf("%d combinations, %d settled", checked, agreed)
}
