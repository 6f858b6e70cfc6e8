package db_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

// BenchmarkChangedReportBatch applies batches of 10 changed reports of 20 servers each, as
// impl/ingest writes them: every server's command changes, and two servers per report change
// risk level (so the counters move), the levels flipping back and forth between iterations.
//
//	go test -run '^$' -bench ChangedReportBatch -benchtime 300x ./db/
func BenchmarkChangedReportBatch(b *testing.B) {
	ctx := context.Background()
	conn := dbtest.New(b)
	store := db.New(conn)
	org := dbtest.Organization(b, store, "Bench")
	const agentsPerBatch, servers = 10, 20
	agents := make([]uuid.UUID, 5*agentsPerBatch)
	for i := range agents {
		agents[i] = dbtest.Agent(b, store, org)
	}
	apply := func(batch []uuid.UUID, round int) {
		tx, err := store.BeginReportBatch(ctx, org)
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.LockAgents(ctx, batch); err != nil {
			b.Fatal(err)
		}
		previous, err := tx.PreviousServers(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		w := db.BatchWrite{}
		for _, agent := range batch {
			r := db.PlannedReport{AgentID: agent, ReportHash: []byte(fmt.Sprint(round)), Previous: previous[agent]}
			for s := 0; s < servers; s++ {
				name := fmt.Sprintf("server-%d", s)
				id := uuid.New()
				if p, ok := previous[agent][name]; ok {
					id = p.ID
				}
				level := "low"
				if s < 2 && round%2 == 1 {
					level = "high"
				}
				hash := sha256.Sum256([]byte(fmt.Sprint(name, round)))
				r.Servers = append(r.Servers, db.ReportServer{ID: id, ServerName: name, ServerType: "type-" + name,
					Command: fmt.Sprintf("npx %s --round %d", name, round), ConfigHash: hash[:], RiskLevel: level, RiskScore: 10,
					RiskFactors: []byte(`[{"id":"MCPW-X","severity":"low","title":"t","detail":"d","evidence":"e"}]`)})
			}
			w.Reports = append(w.Reports, r)
		}
		if _, err := tx.Apply(ctx, w); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < len(agents); i += agentsPerBatch {
		apply(agents[i:i+agentsPerBatch], 0)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % (len(agents) / agentsPerBatch)
		apply(agents[k*agentsPerBatch:(k+1)*agentsPerBatch], i/(len(agents)/agentsPerBatch)+1)
	}
}
