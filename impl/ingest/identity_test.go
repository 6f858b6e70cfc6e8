package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
)

// identityOnStrings is the identity rules written on the stored state's own strings, as they
// read before fingerprints: what checkIdentity must answer on prints.
func identityOnStrings(s db.AgentState, id Identity, now time.Time) identityCheck {
	var c identityCheck
	switch {
	case id.MachineID != nil && s.MachineID != nil:
		c.other = *id.MachineID != *s.MachineID
	case id.Hostname != nil && s.Hostname != nil:
		c.other = *id.Hostname != *s.Hostname
	case id.MachineID == nil && id.Hostname == nil:
		c.refuse = s.KeySharedAt != nil && now.Sub(*s.KeySharedAt) < keySharedWindow
	}
	c.bind = id.MachineID != nil && (s.MachineID == nil || *s.MachineID != *id.MachineID)
	return c
}

// TestSettledAgreesWithCheckIdentity: the identity rules on fingerprints (checkIdentity, which
// admit runs on the stored state) answer as they do on the strings themselves, and the steady
// heartbeat's check on what the key cache holds (settled) answers as those rules and sameMeta do
// on the stored state, for every combination of stored and sent hostname, machine and version,
// and of a sharing caught recently, long ago or never.
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
								c := identityOnStrings(s, id, now)
								if got := checkIdentity(storedPrints(s), id.prints(), now); got != c {
									t.Errorf("stored host %s machine %s shared %v; sent host %s machine %s: checkIdentity %+v, on the strings %+v",
										show(storedHost), show(storedMachine), sharedAt, show(host), show(machine), got, c)
								}
								want := !c.other && !c.refuse && !c.bind && sameMeta(s.AgentMeta, meta)
								checked++
								if got := st.settled(meta, id, now); got != want {
									t.Errorf("stored host %s machine %s version %s shared %v; sent host %s machine %s version %s: settled %v, the rules on the strings say %v",
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
