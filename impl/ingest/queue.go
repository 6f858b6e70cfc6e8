package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
)

// Batch bounds: a batch takes reports until either is reached (always at least one report).
const (
	maxBatchReports = 32
	maxBatchServers = 1000
	// maxRunningBatches is how many batches are written at once: two keep PostgreSQL busy while
	// a batch makes its round trips. More only add backends contending for the same index
	// pages and WAL: on 2 cores, under 64 connections of changed reports, 1, 2, 4 and 8
	// running batches gave about 510, 505, 460 and 385 reports/s.
	maxRunningBatches = 2
	// batchTimeout bounds a batch's transaction, which outlives any one request's context.
	batchTimeout = time.Minute
)

// pendingReport is a report waiting in the queue, then its result.
type pendingReport struct {
	org, agent uuid.UUID
	hash       []byte
	servers    []db.ReportServer
	// alerts decides, once the agent's stored servers are known, which alerts the report raises.
	alerts func(hostname *string, previous map[string]db.PreviousServer, servers []db.ReportServer) []db.NewAlert

	done chan struct{} // closed when out and err are set
	out  db.ReportOutcome
	err  error
}

func (p *pendingReport) finish(out db.ReportOutcome, err error) {
	p.out, p.err = out, err
	close(p.done)
}

// reportQueue gathers concurrent reports of an organization into batches (group commit), each
// written in one db.ReportBatch. There is no timer: a report that finds fewer than
// maxRunningBatches batches running starts one at once, and the reports that arrive meanwhile
// form the next batches, so batches grow with load and a lone report waits for nothing.
type reportQueue struct {
	store   *db.Storage
	metrics *metrics

	mu      sync.Mutex
	waiting []*pendingReport // in arrival order
	running int
	// busy holds the agents of running batches: an agent's next report waits for its running
	// one, so an agent's reports are applied in the order they arrived.
	busy    map[uuid.UUID]bool
	batches int64 // batches started, for tests
}

// submit queues a report and returns its outcome once the batch holding it has committed. It
// returns db.ErrNotFound when the agent no longer exists.
func (q *reportQueue) submit(ctx context.Context, p *pendingReport) (db.ReportOutcome, error) {
	p.done = make(chan struct{})
	q.mu.Lock()
	q.waiting = append(q.waiting, p)
	q.startLocked(ctx)
	q.mu.Unlock()
	select {
	case <-p.done:
	case <-ctx.Done():
		q.mu.Lock()
		for i, w := range q.waiting {
			if w == p { // not taken by a batch yet: withdraw it
				q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
				q.mu.Unlock()
				return db.ReportOutcome{}, ctx.Err()
			}
		}
		q.mu.Unlock()
		<-p.done // being written: its result follows within batchTimeout
	}
	return p.out, p.err
}

// startLocked starts batches while reports can be taken and batches may start. Every running
// batch calls it again when it ends, so no report is left waiting.
func (q *reportQueue) startLocked(ctx context.Context) {
	// A batch carries other requests' reports: it must not end with the request that started it.
	ctx = context.WithoutCancel(ctx)
	for q.running < maxRunningBatches {
		batch := q.takeLocked()
		if batch == nil {
			return
		}
		q.running++
		q.batches++
		go func() {
			bctx, cancel := context.WithTimeout(ctx, batchTimeout)
			q.applyBatch(bctx, batch)
			cancel()
			q.mu.Lock()
			q.running--
			for _, p := range batch {
				delete(q.busy, p.agent)
			}
			q.startLocked(ctx)
			q.mu.Unlock()
		}()
	}
}

// takeLocked removes the next batch from the queue, or returns nil: the oldest report whose
// agent has no report being written, then, in arrival order, the reports of the same
// organization (a batch is one tenant's transaction) whose agents have no report being written
// or taken, within the bounds.
func (q *reportQueue) takeLocked() []*pendingReport {
	var batch []*pendingReport
	var org uuid.UUID
	servers := 0
	rest := q.waiting[:0]
	for _, p := range q.waiting {
		switch {
		case q.busy[p.agent]:
		case batch == nil:
			org = p.org
			fallthrough
		case p.org == org && len(batch) < maxBatchReports && servers+len(p.servers) <= maxBatchServers:
			batch = append(batch, p)
			servers += len(p.servers)
			if q.busy == nil {
				q.busy = map[uuid.UUID]bool{}
			}
			q.busy[p.agent] = true
			continue
		}
		rest = append(rest, p)
	}
	clear(q.waiting[len(rest):])
	q.waiting = rest
	return batch
}

// applyBatch writes a batch and finishes each of its reports. A failure other than a deadlock
// (retried) is isolated: the reports are written again one by one, so one report's error is
// never another's.
func (q *reportQueue) applyBatch(ctx context.Context, batch []*pendingReport) {
	var outs []db.ReportOutcome
	var errs []error
	var err error
	for attempt := 0; ; attempt++ {
		outs, errs, err = q.writeBatch(ctx, batch)
		if err == nil || !db.IsRetryable(err) || attempt == 2 {
			break
		}
	}
	if err != nil && len(batch) > 1 {
		for _, p := range batch {
			q.applyBatch(ctx, []*pendingReport{p})
		}
		return
	}
	for i, p := range batch {
		if err != nil {
			p.finish(db.ReportOutcome{}, err)
		} else {
			p.finish(outs[i], errs[i])
		}
	}
}

// writeBatch writes a batch in one transaction. It returns each report's outcome or error (an
// agent deleted meanwhile is db.ErrNotFound), or err when the transaction failed as a whole.
// A batch costs six round trips: BEGIN, SET LOCAL, the agents' locks, their stored servers, the
// write and COMMIT (plus one to queue webhook deliveries when it raised alerts and the
// organization has webhooks).
func (q *reportQueue) writeBatch(ctx context.Context, batch []*pendingReport) (outs []db.ReportOutcome, errs []error, err error) {
	q.metrics.batches.Observe(float64(len(batch)))
	outs, errs = make([]db.ReportOutcome, len(batch)), make([]error, len(batch))
	tx, err := q.store.BeginReportBatch(ctx, batch[0].org)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	agents := make([]uuid.UUID, len(batch))
	for i, p := range batch {
		agents[i] = p.agent
	}
	locked, err := tx.LockAgents(ctx, agents)
	if err != nil {
		return nil, nil, err
	}
	// Reports of agents that still exist, and not already stored (a duplicate that lost the
	// race for the agent's lock is unchanged).
	var write []*pendingReport
	var writeIdx []int
	for i, p := range batch {
		a, ok := locked[p.agent]
		switch {
		case !ok:
			errs[i] = db.ErrNotFound
		case string(a.ReportHash) == string(p.hash):
			outs[i].Unchanged = true
		default:
			write = append(write, p)
			writeIdx = append(writeIdx, i)
		}
	}
	if len(write) == 0 {
		return outs, errs, tx.Commit()
	}
	agents = agents[:0]
	for _, p := range write {
		agents = append(agents, p.agent)
	}
	// Read under the agents' locks, so no other report of theirs can change it meanwhile.
	previous, err := tx.PreviousServers(ctx, agents)
	if err != nil {
		return nil, nil, err
	}
	w, err := planBatch(write, locked, previous)
	if err != nil {
		return nil, nil, err
	}
	written, err := tx.Apply(ctx, w)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, err
	}
	for k, i := range writeIdx {
		outs[i] = written[k]
	}
	return outs, errs, nil
}

// planBatch gives the reports' servers their ids (the stored one, or a new one), finds the
// servers that go dormant and decides each report's alerts.
func planBatch(reports []*pendingReport, locked map[uuid.UUID]db.LockedAgent, previous map[uuid.UUID]map[string]db.PreviousServer) (db.BatchWrite, error) {
	w := db.BatchWrite{Reports: make([]db.PlannedReport, len(reports))}
	for k, p := range reports {
		prev := previous[p.agent]
		listed := 0 // of prev's servers
		for j := range p.servers {
			srv := &p.servers[j]
			if old, known := prev[srv.ServerName]; known {
				srv.ID = old.ID
				listed++
				continue
			}
			// Time-ordered, so new servers append to the primary key's rightmost leaf.
			id, err := uuid.NewV7()
			if err != nil {
				return w, err
			}
			srv.ID = id
		}
		// The active servers the report no longer lists go dormant.
		if listed < len(prev) {
			listedNames := make(map[string]bool, len(p.servers))
			for _, srv := range p.servers {
				listedNames[srv.ServerName] = true
			}
			for name, old := range prev {
				if !listedNames[name] && old.Status == "active" {
					w.Dormant = append(w.Dormant, old.ID)
				}
			}
		}
		w.Reports[k] = db.PlannedReport{AgentID: p.agent, ReportHash: p.hash, Servers: p.servers, Previous: prev}
		alerts, err := planAlerts(p, locked[p.agent].Hostname, prev)
		if err != nil {
			return w, err
		}
		w.Alerts = append(w.Alerts, alerts...)
	}
	return w, nil
}

// planAlerts runs a report's alert decision, turning a panic into an error: it runs on the
// batch's goroutine, where a panic would end the process rather than one request.
func planAlerts(p *pendingReport, hostname *string, previous map[string]db.PreviousServer) (alerts []db.NewAlert, err error) {
	if p.alerts == nil {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("planning a report's alerts: panic: %v", r)
		}
	}()
	return p.alerts(hostname, previous, p.servers), nil
}
