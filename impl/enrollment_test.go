package impl_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
)

// newSecret creates an enrolment secret and returns its id and value.
func newSecret(t *testing.T, env *apitest.Env, token, name string) (uuid.UUID, string) {
	t.Helper()
	resp, err := env.User(token).CreateEnrollmentSecretWithResponse(tctx, mcpwarden.CreateEnrollmentSecretJSONRequestBody{Name: name})
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create enrolment secret: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return resp.JSON201.Id, resp.JSON201.Secret
}

// enrollAs enrols a machine with secret and returns the answer.
func enrollAs(t *testing.T, env *apitest.Env, secret, machine, hostname string) *mcpwarden.EnrollAgentResponse {
	t.Helper()
	resp, err := env.Anonymous().EnrollAgentWithResponse(tctx, mcpwarden.EnrollAgentJSONRequestBody{
		EnrollmentSecret: &secret, MachineId: machine, Hostname: hostname,
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func machine(name string) string { return machineOf("machine " + name) }

// beatAs sends a heartbeat from machine m.
func beatAs(t *testing.T, env *apitest.Env, key, m, hostname string) int {
	t.Helper()
	resp, err := env.Agent(key).AgentHeartbeatWithResponse(tctx, mcpwarden.AgentHeartbeatJSONRequestBody{Hostname: hostname, MachineId: &m})
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode()
}

func TestEnrolmentSecretsEnrolEachMachineOnce(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	secretID, secret := newSecret(t, env, token, "Engineering laptops")

	first := enrollAs(t, env, secret, machine("a"), "a.local")
	if first.JSON201 == nil {
		t.Fatalf("first enrolment of a machine: %d %s, want 201", first.StatusCode(), first.Body)
	}
	if first.JSON201.Name != "a.local" || first.JSON201.Hostname == nil || *first.JSON201.Hostname != "a.local" {
		t.Errorf("enrolled agent %+v, want it named after its hostname", first.JSON201)
	}
	oldKey := first.JSON201.ApiKey
	if code := beatAs(t, env, oldKey, machine("a"), "a.local"); code != http.StatusOK {
		t.Fatalf("heartbeat with the enrolled key: %d", code)
	}

	again := enrollAs(t, env, secret, machine("a"), "a-renamed.local")
	if again.JSON200 == nil || again.JSON200.Id != first.JSON201.Id || again.JSON200.ApiKey == oldKey {
		t.Fatalf("the same machine enrolling again: %d %s, want 200 with agent %s and a new key", again.StatusCode(), again.Body, first.JSON201.Id)
	}
	if code := beatAs(t, env, oldKey, machine("a"), "a.local"); code != http.StatusUnauthorized {
		t.Errorf("the key replaced by re-enrolment: %d, want 401", code)
	}
	if code := beatAs(t, env, again.JSON200.ApiKey, machine("a"), "a-renamed.local"); code != http.StatusOK {
		t.Errorf("the new key: %d", code)
	}

	other := enrollAs(t, env, secret, machine("b"), "b.local")
	if other.JSON201 == nil || other.JSON201.Id == first.JSON201.Id {
		t.Fatalf("another machine: %d %s, want 201 with an agent of its own", other.StatusCode(), other.Body)
	}

	// Five concurrent enrolments of one new machine make one agent.
	var wg sync.WaitGroup
	codes := make(chan int, 5)
	for range 5 {
		wg.Go(func() { codes <- enrollAs(t, env, secret, machine("c"), "c.local").StatusCode() })
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[http.StatusCreated] != 1 || count[http.StatusOK] != 4 {
		t.Errorf("five concurrent enrolments of one machine: %v, want one 201 and four 200", count)
	}
	agents, err := env.User(token).ListAgentsWithResponse(tctx, nil)
	if err != nil || agents.JSON200 == nil || agents.JSON200.Total != 3 {
		t.Fatalf("agents after enrolling machines a (twice), b and c (five times): %v %s, want 3", err, agents.Body)
	}

	list, err := env.User(token).ListEnrollmentSecretsWithResponse(tctx, nil)
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 1 {
		t.Fatalf("list: %v %s", err, list.Body)
	}
	s := list.JSON200.Items[0]
	if s.Id != secretID || s.Uses != 8 || s.LastUsedAt == nil || s.Status != mcpwarden.SecretActive {
		t.Errorf("listed secret %+v, want 8 uses (a twice, b, c five times), a last use, active", s)
	}
	if len(s.SecretPrefix) >= len(secret) || s.SecretPrefix[len(s.SecretPrefix)-4:] != secret[len(secret)-4:] {
		t.Errorf("secret hint %q does not end like the secret or reveals it", s.SecretPrefix)
	}
}

func TestRevokedExpiredRotatedOrUnknownSecretsDoNotEnrol(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	revokedID, revoked := newSecret(t, env, token, "revoked")
	expiredID, expired := newSecret(t, env, token, "expired")
	rotatedID, rotated := newSecret(t, env, token, "rotated")

	if resp, err := env.User(token).RevokeEnrollmentSecretWithResponse(tctx, revokedID); err != nil || resp.StatusCode() != http.StatusNoContent {
		t.Fatalf("revoke: %v %d", err, resp.StatusCode())
	}
	env.Store.DB().MustExec(`UPDATE enrollment_secrets SET expires_at = now() - interval '1 minute' WHERE id = $1`, expiredID)
	rot, err := env.User(token).RotateEnrollmentSecretWithResponse(tctx, rotatedID)
	if err != nil || rot.JSON200 == nil || rot.JSON200.Secret == rotated {
		t.Fatalf("rotate: %v %s", err, rot.Body)
	}
	for name, secret := range map[string]string{
		"a revoked secret":             revoked,
		"an expired secret":            expired,
		"a rotated secret's old value": rotated,
		"an unknown secret":            "mcp_es_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"garbage":                      "hunter2",
	} {
		if resp := enrollAs(t, env, secret, machine(name), "x.local"); resp.StatusCode() != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, resp.StatusCode(), resp.Body)
		}
	}
	if resp := enrollAs(t, env, rot.JSON200.Secret, machine("new"), "new.local"); resp.StatusCode() != http.StatusCreated {
		t.Errorf("the rotated secret's new value: %d %s", resp.StatusCode(), resp.Body)
	}
	if resp, _ := env.User(token).RotateEnrollmentSecretWithResponse(tctx, revokedID); resp.StatusCode() != http.StatusNotFound {
		t.Errorf("rotating a revoked secret: %d, want 404", resp.StatusCode())
	}
	list, _ := env.User(token).ListEnrollmentSecretsWithResponse(tctx, nil)
	statuses := map[uuid.UUID]mcpwarden.EnrollmentSecretStatus{}
	for _, s := range list.JSON200.Items {
		statuses[s.Id] = s.Status
	}
	if statuses[revokedID] != mcpwarden.SecretRevoked || statuses[expiredID] != mcpwarden.SecretExpired || statuses[rotatedID] != mcpwarden.SecretActive {
		t.Errorf("statuses %v", statuses)
	}
	past := time.Now().Add(-time.Hour)
	if resp, _ := env.User(token).CreateEnrollmentSecretWithResponse(tctx, mcpwarden.CreateEnrollmentSecretJSONRequestBody{Name: "x", ExpiresAt: &past}); resp.StatusCode() != http.StatusBadRequest {
		t.Errorf("a secret expiring in the past: %d, want 400", resp.StatusCode())
	}
}

func TestFailedEnrolmentsAreThrottledPerAddress(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, secret := newSecret(t, env, token, "good")
	for i := range 20 {
		if resp := enrollAs(t, env, "mcp_es_wrong", machine("x"), "x.local"); resp.StatusCode() != http.StatusUnauthorized {
			t.Fatalf("bad secret %d: %d", i, resp.StatusCode())
		}
	}
	resp := enrollAs(t, env, secret, machine("y"), "y.local")
	if resp.StatusCode() != http.StatusTooManyRequests || resp.HTTPResponse.Header.Get("Retry-After") == "" {
		t.Fatalf("after 20 failed enrolments from one address: %d, want 429 with Retry-After", resp.StatusCode())
	}
}

// TestAKeyUsedByTwoMachinesIsCaught: machine b using machine a's key while a is active gets 409
// and raises one alert; a's inventory stays as a reported it; once a has been silent for three
// minutes the key moves to b.
func TestAKeyUsedByTwoMachinesIsCaught(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, secret := newSecret(t, env, token, "fleet")
	enrolled := enrollAs(t, env, secret, machine("a"), "a.local").JSON201
	key := enrolled.ApiKey
	a, b := machine("a"), machine("b")
	hostA, hostB := "a.local", "b.local"
	send := func(m, host *string, servers ...mcpwarden.ReportedServer) *mcpwarden.ReportServersResponse {
		resp, err := env.Agent(key).ReportServersWithResponse(tctx, mcpwarden.ReportServersJSONRequestBody{Servers: servers, MachineId: m, Hostname: host})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	beat := func(m *string, host string) int {
		resp, err := env.Agent(key).AgentHeartbeatWithResponse(tctx, mcpwarden.AgentHeartbeatJSONRequestBody{Hostname: host, MachineId: m})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode()
	}
	if code := beat(&a, hostA); code != http.StatusOK {
		t.Fatalf("a's heartbeat: %d", code)
	}
	if r := send(&a, &hostA, srv("alpha", "mcp-server-time", "uvx mcp-server-time")); r.JSON200 == nil {
		t.Fatalf("a's report: %d %s", r.StatusCode(), r.Body)
	}

	if code := beat(&b, hostB); code != http.StatusConflict {
		t.Errorf("b's heartbeat on a's key: %d, want 409", code)
	}
	if r := send(&b, &hostB, srv("beta", "mcp-server-fetch", "uvx mcp-server-fetch")); r.StatusCode() != http.StatusConflict {
		t.Errorf("b's report on a's key: %d %s, want 409", r.StatusCode(), r.Body)
	}
	if r := send(nil, nil, srv("beta", "mcp-server-fetch", "uvx mcp-server-fetch")); r.StatusCode() != http.StatusConflict {
		t.Errorf("a report without identity while the key is caught shared: %d, want 409", r.StatusCode())
	}
	if n := count(t, env, `SELECT count(*) FROM mcp_servers WHERE agent_id = $1 AND status = 'dormant'`, enrolled.Id); n != 0 {
		t.Errorf("%d of a's servers dormant after b's refused report", n)
	}
	if n := count(t, env, `SELECT count(*) FROM mcp_servers WHERE agent_id = $1 AND server_name = 'beta'`, enrolled.Id); n != 0 {
		t.Errorf("b's server stored under a's agent")
	}
	alerts, err := env.User(token).ListAlertsWithResponse(tctx, nil)
	if err != nil || alerts.JSON200 == nil {
		t.Fatalf("alerts: %v %s", err, alerts.Body)
	}
	var shared []mcpwarden.Alert
	for _, al := range alerts.JSON200.Items {
		if al.Type == "agent_key_shared" {
			shared = append(shared, al)
		}
	}
	if len(shared) != 1 || shared[0].AgentId == nil || *shared[0].AgentId != enrolled.Id || shared[0].Severity != mcpwarden.High {
		t.Fatalf("agent_key_shared alerts: %+v, want one, high, for the agent", shared)
	}
	if r := send(&a, &hostA, srv("alpha", "mcp-server-time", "uvx mcp-server-time")); r.JSON200 == nil || !r.JSON200.Unchanged {
		t.Errorf("a keeps reporting: %d %s", r.StatusCode(), r.Body)
	}

	// a goes silent: after three minutes the key is b's.
	env.Ingester.FlushLastSeen(tctx)
	env.Store.DB().MustExec(`UPDATE agents SET last_seen_at = now() - interval '4 minutes', key_shared_at = now() - interval '4 minutes' WHERE id = $1`, enrolled.Id)
	if code := beat(&b, hostB); code != http.StatusOK {
		t.Errorf("b's heartbeat once a has been silent for 4 minutes: %d, want 200", code)
	}
	if code := beat(&a, hostA); code != http.StatusConflict {
		t.Errorf("a coming back while b holds the key: %d, want 409", code)
	}
}

// TestAKeyUsedByTwoHostsWithoutIdentityIsCaught: agents that send no machine_id are told apart
// by hostname.
func TestAKeyUsedByTwoHostsWithoutIdentityIsCaught(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, key := enrol(t, env, token, "old agent")
	beat := func(host string) int {
		resp, err := env.Agent(key).AgentHeartbeatWithResponse(tctx, mcpwarden.AgentHeartbeatJSONRequestBody{Hostname: host})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode()
	}
	if code := beat("one.local"); code != http.StatusOK {
		t.Fatalf("first heartbeat: %d", code)
	}
	if code := beat("two.local"); code != http.StatusConflict {
		t.Errorf("another hostname on the key while the first is active: %d, want 409", code)
	}
	if code := beat("one.local"); code != http.StatusOK {
		t.Errorf("the first host again: %d", code)
	}
}
