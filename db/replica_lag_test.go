package db

import (
	"testing"
	"time"
)

func TestLSNReadsPostgreSQLsTextForm(t *testing.T) {
	for _, c := range []struct {
		in   any
		want LSN
		bad  bool
	}{
		{nil, 0, false},
		{[]byte("0/0"), 0, false},
		{[]byte("0/3003240"), 0x3003240, false},
		{"16/B374D848", 0x16_B374D848, false},
		{"FFFFFFFF/FFFFFFFF", 1<<64 - 1, false},
		{"16", 0, true},
		{"G/0", 0, true},
		{"1/100000000", 0, true},
		{42, 0, true},
	} {
		var got LSN
		err := got.Scan(c.in)
		if (err != nil) != c.bad || !c.bad && got != c.want {
			t.Errorf("Scan(%v) = %v, %v; want %v (error: %v)", c.in, got, err, c.want, c.bad)
		}
		if !c.bad && c.in != nil {
			var back LSN
			if err := back.Scan(got.String()); err != nil || back != got {
				t.Errorf("%v does not read back from %q: %v, %v", got, got.String(), back, err)
			}
		}
	}
}

// TestLagIsHowLongAgoThePrimaryWasWhereTheReplicaIs: the replica misses at most what the primary
// wrote since the newest sample it has reached.
func TestLagIsHowLongAgoThePrimaryWasWhereTheReplicaIs(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	samples := []lsnSample{{t0, 100}, {t0.Add(time.Second), 200}, {t0.Add(2 * time.Second), 300}}
	now := t0.Add(2 * time.Second)
	for _, c := range []struct {
		name   string
		replay LSN
		lag    time.Duration
		known  bool
	}{
		{"caught up with the newest sample", 300, 0, true},
		{"ahead of the newest sample (written since)", 350, 0, true},
		{"between two samples: as old as the older", 250, time.Second, true},
		{"exactly at an older sample", 200, time.Second, true},
		{"at the oldest sample", 100, 2 * time.Second, true},
		{"behind every sample: unknown", 99, 0, false},
	} {
		lag, known := lagOf(samples, c.replay, now)
		if lag != c.lag || known != c.known {
			t.Errorf("%s: lag %s (known %v), want %s (%v)", c.name, lag, known, c.lag, c.known)
		}
	}
}

// TestSamplesKeepJustEnoughToMeasureTheMaximumLag: older samples than the maximum lag are
// dropped, except the newest of them, which tells a replica just past the limit from one far
// behind.
func TestSamplesKeepJustEnoughToMeasureTheMaximumLag(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var samples []lsnSample
	for i := range 100 {
		samples = addSample(samples, lsnSample{t0.Add(time.Duration(i) * time.Second), LSN(i * 10)}, 10*time.Second)
	}
	if len(samples) != 12 || samples[0].lsn != 880 || samples[len(samples)-1].lsn != 990 {
		t.Fatalf("kept %d samples, %d to %d; want 12, from 880 (11 s old) to 990", len(samples), uint64(samples[0].lsn), uint64(samples[len(samples)-1].lsn))
	}
	now := t0.Add(99 * time.Second)
	if lag, known := lagOf(samples, 885, now); !known || lag != 11*time.Second {
		t.Errorf("a replica 11 s behind: lag %s, known %v", lag, known)
	}
	if _, known := lagOf(samples, 500, now); known {
		t.Error("a replica far behind every kept sample has a known lag")
	}
}
