package ingest

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
)

// A key used by two machines is caught, not obeyed: otherwise each machine's report replaces
// the other's inventory, and both flip between active and dormant. A key is bound to the
// machine that uses it (the machine_id agents send, or the hostname for agents that send none);
// a request from another machine while the bound one is active (seen within keySharedWindow) is
// refused with ErrKeyShared and raises an agent_key_shared alert. A key whose machine has been
// silent that long moves to the new machine: a reinstalled or renamed machine keeps working.
const keySharedWindow = 3 * time.Minute

// ErrKeyShared refuses a request from a second machine using an active agent's key.
var ErrKeyShared = errors.New("the agent key is in use by another machine")

// Identity is what a request says about the machine that sent it; either may be nil.
type Identity struct {
	MachineID, Hostname *string
}

// prints is what the identity rules compare, for a request or for an agent's stored state:
// fingerprints (fingerprintOf) of the machine identity and of the hostname, 0 for none, and
// when another machine was last caught using the key, in Unix nanoseconds (0: never; stored
// state only). The key cache holds an agent's as they are, so that a steady heartbeat is
// checked by the same rules as any other request (agentState.settled).
type prints struct {
	machine, host uint64
	sharedAt      int64
}

func (id Identity) prints() prints {
	return prints{machine: fingerprintOf(id.MachineID), host: fingerprintOf(id.Hostname)}
}

func storedPrints(s db.AgentState) prints {
	p := prints{machine: fingerprintOf(s.MachineID), host: fingerprintOf(s.Hostname)}
	if s.KeySharedAt != nil {
		p.sharedAt = s.KeySharedAt.UnixNano()
	}
	return p
}

// identityCheck is what the stored state alone says of a request's machine: that it is another
// machine than the bound one (refused if that one is active), that it is to be refused outright
// (it cannot be told apart while a sharing is being caught), or that the key is to be bound to it.
type identityCheck struct{ other, refuse, bind bool }

func checkIdentity(s, id prints, now time.Time) identityCheck {
	var c identityCheck
	switch {
	case id.machine != 0 && s.machine != 0:
		c.other = id.machine != s.machine
	case id.host != 0 && s.host != 0:
		c.other = id.host != s.host
	case id.machine == 0 && id.host == 0:
		// Nothing to tell machines apart: refused only while a sharing is being caught.
		c.refuse = s.sharedAt != 0 && now.Sub(time.Unix(0, s.sharedAt)) < keySharedWindow
	}
	c.bind = id.machine != 0 && s.machine != id.machine
	return c
}

// fingerprintSeed is this process's: fingerprints are compared within one replica only, and
// nobody outside it can choose values that collide.
var fingerprintSeed = maphash.MakeSeed()

// fingerprintOf condenses a machine identity or hostname into 64 bits; 0 is none, which no
// value condenses to (an empty one included). Two values colliding is one chance in 2^64.
func fingerprintOf(v *string) uint64 {
	if v == nil {
		return 0
	}
	return maphash.String(fingerprintSeed, *v) | 1
}

// admit checks that the request comes from the machine the agent's key is bound to, given the
// agent's stored state, and returns whether the key is to be bound to id.MachineID.
func (in *Ingester) admit(ctx context.Context, a Agent, s db.AgentState, id Identity) (bind bool, err error) {
	now := in.now()
	c := checkIdentity(storedPrints(s), id.prints(), now)
	if c.refuse {
		return false, ErrKeyShared
	}
	lastSeen := s.LastSeenAt
	if buffered, ok := in.seen.seen(a.AgentID); ok && (lastSeen == nil || buffered.After(*lastSeen)) {
		lastSeen = &buffered
	}
	if active := lastSeen != nil && now.Sub(*lastSeen) < keySharedWindow; c.other && active {
		if err := in.store.MarkKeyShared(ctx, a.OrgID, a.AgentID, keySharedAlert(a, s, id)); err != nil {
			return false, err
		}
		if st := in.keys.agent(a.AgentID); st != nil {
			st.sharedNow(now)
		}
		return false, ErrKeyShared
	}
	return c.bind, nil
}

func keySharedAlert(a Agent, s db.AgentState, id Identity) db.NewAlert {
	second := "another machine"
	if id.Hostname != nil {
		second = fmt.Sprintf("machine %q", *id.Hostname)
	}
	first := "the machine it is bound to"
	if s.Hostname != nil {
		first = fmt.Sprintf("%q", *s.Hostname)
	}
	agentID := a.AgentID
	return db.NewAlert{
		Type: "agent_key_shared", Severity: "high",
		Title: "Two machines use one agent key",
		Message: fmt.Sprintf("The agent key bound to %s is also being used by %s while %s is active. "+
			"The second machine's heartbeats and reports are refused (409), so neither inventory replaces the other. "+
			"Enrol each machine with its own key (an enrolment secret does this), or rotate this agent's key if it leaked.", first, second, first),
		AgentID: &agentID, AgentHostname: s.Hostname,
		DedupKey: "agent_key_shared:" + a.AgentID.String(),
	}
}
