package db

import (
	"context"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// errThrottled rolls back a count that reached a limit.
var errThrottled = errors.New("throttled")

// CountAttempts counts one attempt against each key, in windows of the given length that start
// at a key's first attempt, unless a key has already reached its limit: then nothing is counted
// and the time until the latest such window ends is returned. Replicas share the counters, and
// concurrent attempts count one after the other (each key's row is locked by its upsert), so no
// number of replicas or parallel requests gets past a limit.
func (s *Storage) CountAttempts(ctx context.Context, now time.Time, window time.Duration, keys [][]byte, limits []int) (retryAfter time.Duration, err error) {
	cutoff := now.Add(-window)
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var counted int
		// Rows in key order, so that concurrent counts lock them in one order and cannot deadlock.
		if err := tx.GetContext(ctx, &counted, `
			WITH counted AS (
				INSERT INTO auth_throttles AS t (key, window_start, failures, max_failures)
				SELECT k, $1, 1, lim FROM unnest($3::bytea[], $4::int[]) AS i(k, lim) ORDER BY k
				ON CONFLICT (key) DO UPDATE SET
					window_start = CASE WHEN t.window_start <= $2 THEN $1 ELSE t.window_start END,
					failures     = CASE WHEN t.window_start <= $2 THEN 1 ELSE t.failures + 1 END,
					max_failures = EXCLUDED.max_failures
				WHERE t.window_start <= $2 OR t.failures < EXCLUDED.max_failures
				RETURNING 1
			)
			SELECT count(*) FROM counted`, now, cutoff, pq.Array(keys), pq.Array(limits)); err != nil {
			return err
		}
		if counted == len(keys) {
			return nil
		}
		var ends time.Time
		if err := tx.GetContext(ctx, &ends, `
			SELECT max(window_start) FROM auth_throttles
			WHERE key = ANY($1) AND window_start > $2 AND failures >= max_failures`, pq.Array(keys), cutoff); err != nil {
			return err
		}
		retryAfter = max(ends.Add(window).Sub(now), time.Second)
		return errThrottled
	})
	if errors.Is(err, errThrottled) {
		return retryAfter, nil
	}
	return 0, err
}

// UncountAttempts takes back one attempt from each key: the attempt was not a failure (a right
// password, or a request that an outage or overload stopped before it was judged).
func (s *Storage) UncountAttempts(ctx context.Context, keys [][]byte) error {
	_, err := s.db.ExecContext(ctx, `UPDATE auth_throttles SET failures = failures - 1 WHERE key = ANY($1) AND failures > 0`, pq.Array(keys))
	return err
}

// ClearAttempts forgets the keys' failures (a successful sign-in ends a run of failures).
func (s *Storage) ClearAttempts(ctx context.Context, keys [][]byte) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM auth_throttles WHERE key = ANY($1)`, pq.Array(keys))
	return err
}

// DeleteExpiredAttempts deletes the counters whose window started before cutoff.
func (s *Storage) DeleteExpiredAttempts(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM auth_throttles WHERE window_start < $1`, cutoff)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
