package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// LSN is a position in PostgreSQL's write-ahead log (pg_lsn), as a number of bytes; 0 is none.
type LSN uint64

// Scan reads a pg_lsn ("16/B374D848"); NULL is 0.
func (l *LSN) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
		*l = 0
		return nil
	case []byte:
		s = string(v)
	case string:
		s = v
	default:
		return fmt.Errorf("pg_lsn: cannot scan %T", src)
	}
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	w, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("pg_lsn: cannot parse %q", s)
	}
	*l = LSN(h<<32 | w)
	return nil
}

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF) }

// ReadReplicaOptions configure a read replica: a streaming standby of the primary.
type ReadReplicaOptions struct {
	URL      string
	MaxConns int
	// MaxLag is how far behind the primary the replica may be and still serve reads.
	MaxLag time.Duration
	// CheckInterval is how often WatchReadReplica measures the replica's replay position.
	CheckInterval time.Duration
	// StateChanged, when set, is called when the replica's state changes (for logs).
	StateChanged func(ReplicaStatus)
}

// Replica states, as /health reports them.
const (
	ReplicaStarting    = "starting"    // not checked yet
	ReplicaStreaming   = "streaming"   // in recovery, within MaxLag: serves reads
	ReplicaLagging     = "lagging"     // more than MaxLag behind
	ReplicaUnreachable = "unreachable" // a check or a read failed to reach it
	ReplicaNotStandby  = "not_standby" // answers, but is not in recovery (promoted, or not a standby)
)

// ReplicaStatus is the read replica as its last check found it.
type ReplicaStatus struct {
	State string
	// InUse: reads may go to the replica (subject to each caller's own changes, see Read).
	InUse bool
	// ReplayLSN is how far the replica had replayed the primary's WAL at CheckedAt.
	ReplayLSN LSN
	// Lag is an upper bound of how far behind the primary the replica was at CheckedAt;
	// LagKnown is false when no check has measured it.
	Lag       time.Duration
	LagKnown  bool
	CheckedAt time.Time
	// Err is why the replica is not in use, for logs (never sent to clients).
	Err error
}

// readReplica is the standby's pool and what the checks learnt of it.
type readReplica struct {
	opts   ReadReplicaOptions
	store  *Storage
	status atomic.Pointer[ReplicaStatus]
	// samples are the primary's recent WAL positions with the time each was read, oldest
	// first: the lag is how long ago the primary was where the replica now is.
	mu      sync.Mutex
	samples []lsnSample
}

type lsnSample struct {
	at  time.Time
	lsn LSN
}

// UseReadReplica routes the reads that callers run through Read to a streaming standby of the
// primary, once WatchReadReplica has found it caught up. It opens the pool without connecting:
// a replica that is down at start only keeps reads on the primary until it answers.
func (s *Storage) UseReadReplica(o ReadReplicaOptions) error {
	conn, err := Pool(o.URL)
	if err != nil {
		return fmt.Errorf("read replica: %w", err)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 20
	}
	conn.SetMaxOpenConns(o.MaxConns)
	conn.SetMaxIdleConns(o.MaxConns)
	conn.SetConnMaxIdleTime(5 * time.Minute)
	conn.SetConnMaxLifetime(connMaxLifetime)
	if o.CheckInterval <= 0 {
		o.CheckInterval = time.Second
	}
	r := &readReplica{opts: o, store: &Storage{db: conn}}
	r.status.Store(&ReplicaStatus{State: ReplicaStarting, Err: errors.New("not checked yet")})
	s.replica = r
	return nil
}

// HasReadReplica reports whether a read replica is configured.
func (s *Storage) HasReadReplica() bool { return s.replica != nil }

// ReadReplicaStatus returns the read replica's state as the last check (or failed read) left it;
// ok is false when none is configured.
func (s *Storage) ReadReplicaStatus() (status ReplicaStatus, ok bool) {
	if s.replica == nil {
		return ReplicaStatus{}, false
	}
	return *s.replica.status.Load(), true
}

// Read runs fn, an idempotent read, on the read replica when one is in use and has replayed the
// primary's WAL at least to after (the caller's last change; see UserAuth.ChangedLSN), and on the
// primary otherwise. When the replica cannot serve it (unreachable, or the query cancelled by a
// conflict with recovery), fn runs again on the primary: fn must start from scratch each time.
// Choosing costs no round trip: it uses what the last check found.
func (s *Storage) Read(ctx context.Context, after LSN, fn func(*Storage) error) error {
	r := s.replica
	if r == nil || !r.serves(after) {
		return fn(s)
	}
	err := fn(r.store)
	if err == nil || ctx.Err() != nil || !replicaFailed(err) {
		return err
	}
	if Unavailable(err) {
		r.setUnreachable(err)
	}
	return fn(s)
}

// serves reports whether the replica may serve a read that must see the primary's WAL up to after.
func (r *readReplica) serves(after LSN) bool {
	st := r.status.Load()
	// A check that has not run for several intervals (stuck on a hung replica) is not believed.
	return st.InUse && st.ReplayLSN >= after && time.Since(st.CheckedAt) < 5*r.opts.CheckInterval+5*time.Second
}

// replicaFailed reports whether err is the replica's failure rather than the read's: it could not
// be reached, or it cancelled the query for a conflict with WAL replay (serialization_failure).
func replicaFailed(err error) bool {
	var pqErr *pq.Error
	return Unavailable(err) || errors.As(err, &pqErr) && pqErr.Code == "40001"
}

func (r *readReplica) setUnreachable(err error) {
	r.set(&ReplicaStatus{State: ReplicaUnreachable, ReplayLSN: r.status.Load().ReplayLSN, CheckedAt: time.Now(), Err: err})
}

// set records the replica's new status, and tells StateChanged when its state differs.
func (r *readReplica) set(st *ReplicaStatus) {
	old := r.status.Swap(st)
	if r.opts.StateChanged != nil && (old.State != st.State || old.InUse != st.InUse) {
		r.opts.StateChanged(*st)
	}
}

// WatchReadReplica checks the read replica every CheckInterval until ctx ends: it reads the
// primary's WAL position and the replica's replay position, and puts the replica in use while it
// is a standby no more than MaxLag behind. It returns at once when no replica is configured.
func (s *Storage) WatchReadReplica(ctx context.Context) {
	r := s.replica
	if r == nil {
		return
	}
	tick := time.NewTicker(r.opts.CheckInterval)
	defer tick.Stop()
	for {
		s.checkReplica(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *Storage) checkReplica(ctx context.Context) {
	r := s.replica
	// Generous: a check that times out takes the replica out of use.
	timeout := max(2*r.opts.CheckInterval, 5*time.Second)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	old := r.status.Load()
	fail := func(state string, err error) {
		r.set(&ReplicaStatus{State: state, ReplayLSN: old.ReplayLSN, CheckedAt: time.Now(), Err: err})
	}
	// The primary first: whatever it had committed before this moment, a replica that has
	// replayed to this position has too. The insert position, not the write position
	// (pg_current_wal_lsn), which an asynchronous commit returns before reaching.
	var primary LSN
	if err := s.db.QueryRowContext(ctx, `SELECT pg_current_wal_insert_lsn()`).Scan(&primary); err != nil {
		// Without the primary's position the lag is unknown; the replica's state stands.
		fail(old.State, fmt.Errorf("read the primary's WAL position: %w", err))
		return
	}
	at := time.Now()
	var (
		inRecovery bool
		replay     LSN
	)
	err := r.store.db.QueryRowContext(ctx, `SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()`).Scan(&inRecovery, &replay)
	if err != nil {
		fail(ReplicaUnreachable, err)
		return
	}
	if !inRecovery {
		fail(ReplicaNotStandby, errors.New("the read replica is not in recovery: it is not (or no longer) a standby of the primary"))
		return
	}
	r.mu.Lock()
	r.samples = addSample(r.samples, lsnSample{at: at, lsn: primary}, r.opts.MaxLag)
	lag, known := lagOf(r.samples, replay, at)
	r.mu.Unlock()
	st := &ReplicaStatus{State: ReplicaStreaming, InUse: true, ReplayLSN: replay, Lag: lag, LagKnown: known, CheckedAt: at}
	if !known || lag > r.opts.MaxLag {
		st.State, st.InUse = ReplicaLagging, false
		st.Err = fmt.Errorf("the read replica is more than %s behind the primary", r.opts.MaxLag)
	}
	r.set(st)
}

// addSample appends next to the primary's positions and drops those no lag measurement within
// keep (and one interval more) needs: all but the newest older than keep.
func addSample(samples []lsnSample, next lsnSample, keep time.Duration) []lsnSample {
	samples = append(samples, next)
	cut := 0
	for cut+1 < len(samples) && next.at.Sub(samples[cut+1].at) > keep {
		cut++
	}
	return append(samples[:0], samples[cut:]...)
}

// lagOf bounds how far behind the primary a replica that has replayed to replay is, at now: the
// primary's newest sampled position the replica has reached was current at that sample's time,
// so the replica misses at most what was written since. known is false when the replica is
// behind every sample (further behind than the samples reach).
func lagOf(samples []lsnSample, replay LSN, now time.Time) (lag time.Duration, known bool) {
	for i := len(samples) - 1; i >= 0; i-- {
		if samples[i].lsn <= replay {
			return max(now.Sub(samples[i].at), 0), true
		}
	}
	return 0, false
}

// MarkChanged records that the user's change has been committed, so that their later reads wait
// for a replica to replay it (Read's after). Without a read replica it does nothing. Run it after
// the change's transaction commits and before the change is acknowledged.
func (s *Storage) MarkChanged(ctx context.Context, orgID, userID uuid.UUID) error {
	if s.replica == nil {
		return nil
	}
	// The insert position: with synchronous_commit off, the change's commit record may not be
	// written yet. GREATEST: a concurrent mark that read an older position must not move it back.
	_, err := s.db.ExecContext(ctx, `
		UPDATE users SET changed_lsn = GREATEST(changed_lsn, pg_current_wal_insert_lsn())
		WHERE organization_id = $1 AND id = $2`, orgID, userID)
	return err
}
