package main

import (
	"container/heap"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcpwarden/mcpwarden/cmd/internal/loadresult"
)

// The fleet mode plays N distinct agents at the rates real ones keep: each heartbeats every
// --interval and reports every --report-interval (both with --jitter), a --changed share of the
// reports being a change of configuration and the rest unchanged. It is open-loop: every
// request has a scheduled time, fixed in advance whatever the server does, and its latency is
// measured from that time, so a server that falls behind shows as latency (coordinated omission
// would hide it as a lower rate). At most --concurrency requests are in flight; a request that
// cannot start within --max-lag of its time is dropped and counted, so an overloaded server
// ends the run with a count instead of an unbounded queue.
//
// It sends through rawConn (conn.go) rather than the SDK or net/http: one keep-alive
// connection per worker, each request one write of pre-rendered bytes, so that the generator
// takes a small share of the cores it shares with the server (it reports its own CPU).

// fleetEvent is one scheduled request.
type fleetEvent struct {
	at    int64 // scheduled time, ns since the run's start
	agent int32
	kind  uint8 // epHeartbeat or epUnchanged (a report; changed or not is drawn when it is sent)
}

type eventHeap []fleetEvent

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(fleetEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// fleetAgent is one agent's state. Its reports are 15 minutes apart, so two never overlap;
// mu guards against it anyway on runs with tiny intervals.
type fleetAgent struct {
	mu   sync.Mutex
	key  string
	last []byte // the report the server holds (nil: the seeded baseline)
	rev  int
	// synced: a report of this run was answered, so the server holds last. Until then it may
	// hold a change an earlier run left.
	synced bool
}

type fleet struct {
	o        options
	hbPath   string
	repPath  string
	agents   []fleetAgent
	baseline []byte
	sim      *simulation // for reportBody
	start    time.Time
	measure  int64 // ns since start: events scheduled before it are warm-up

	inflight, sent, late, dropped, failed atomic.Int64
}

// lateAfter is how far behind its schedule a request may start before it counts as late.
const lateAfter = 10 * time.Millisecond

func runFleet(ctx context.Context, o options) (*results, error) {
	keys, err := readKeys(o.keysFile)
	if err != nil {
		return nil, err
	}
	if o.agents < len(keys) && o.agentsSet {
		keys = keys[:o.agents]
	}
	nb := make([]byte, 4)
	crand.Read(nb)
	f := &fleet{o: o, sim: &simulation{o: o, nonce: hex.EncodeToString(nb)}}
	addr, host, base, err := rawTarget(o.url)
	if err != nil {
		return nil, err
	}
	f.hbPath, f.repPath = base+"/agents/heartbeat", base+"/mcp/report"
	f.baseline = f.sim.reportBody(0, 0, 0)
	f.agents = make([]fleetAgent, len(keys))
	for i, k := range keys {
		f.agents[i] = fleetAgent{key: k}
	}

	n := len(keys)
	offered := float64(n)/o.interval.Seconds() + float64(n)/o.reportInterval.Seconds()
	fmt.Fprintf(os.Stderr, "fleet of %d agents: heartbeat every %v, report every %v (±%.0f%%), %.0f%% of reports changed: %.0f requests/s; "+
		"warm-up %v, then %v measured; at most %d in flight, dropped when %v late\n",
		n, o.interval, o.reportInterval, 100*o.jitter, 100*o.changed, offered, o.warmup, o.duration, o.concurrency, o.maxLag)

	// Every agent starts at a random phase of its intervals: the fleet is in its steady state
	// from the first second, as a running one is when the server starts.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	h := make(eventHeap, 0, 2*n)
	for i := range n {
		h = append(h, fleetEvent{at: int64(rng.Float64() * float64(o.interval)), agent: int32(i), kind: epHeartbeat})
		if o.reportInterval > 0 {
			h = append(h, fleetEvent{at: int64(rng.Float64() * float64(o.reportInterval)), agent: int32(i), kind: epUnchanged})
		}
	}
	heap.Init(&h)

	conc := o.concurrency
	workers := make([]*worker, conc)
	queue := make(chan fleetEvent, 4*conc)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{id: i, rng: rand.New(rand.NewPCG(uint64(i)+1, uint64(time.Now().UnixNano())))}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newRawConn(addr, host, o.timeout)
			defer c.close()
			for ev := range queue {
				f.send(ctx, w, c, ev)
			}
		}()
	}

	end := o.warmup + o.duration
	f.measure = int64(o.warmup)
	f.start = time.Now()
	cpu0 := selfCPU()
	var cpuMeasure0 float64
	measuring := false
	var lastSent int64
	lastAt := f.start
	stopProgress := progressTicker(o.progress, func() {
		now, s := time.Now(), f.sent.Load()
		phase := "warm-up"
		if now.Sub(f.start) >= o.warmup {
			phase = "measured"
		}
		fmt.Fprintf(os.Stderr, "  %6.1fs %-8s sent %9d  rate %7.0f/s  in flight %4d  late %d  dropped %d  errors %d  generator CPU %.2f cores\n",
			now.Sub(f.start).Seconds(), phase, s, float64(s-lastSent)/now.Sub(lastAt).Seconds(), f.inflight.Load(),
			f.late.Load(), f.dropped.Load(), f.failed.Load(), (selfCPU()-cpu0)/now.Sub(f.start).Seconds())
		lastSent, lastAt = s, now
	})

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
dispatch:
	for h.Len() > 0 && ctx.Err() == nil {
		now := int64(time.Since(f.start))
		if !measuring && now >= int64(o.warmup) {
			measuring, cpuMeasure0 = true, selfCPU()
		}
		if now >= int64(end) {
			break
		}
		ev := h[0]
		if ev.at > now {
			timer.Reset(time.Duration(min(ev.at, int64(end)) - now))
			select {
			case <-timer.C:
			case <-ctx.Done():
				break dispatch
			}
			continue
		}
		heap.Pop(&h)
		select {
		case queue <- ev:
		case <-ctx.Done():
			break dispatch
		}
		next := ev
		if ev.kind == epHeartbeat {
			next.at += int64(jittered(rng, o.interval, o.jitter))
		} else {
			next.at += int64(jittered(rng, o.reportInterval, o.jitter))
		}
		heap.Push(&h, next)
	}
	measuredFor := time.Since(f.start) - o.warmup
	genCPU := selfCPU() - cpuMeasure0
	close(queue)
	wg.Wait()
	stopProgress()
	if !measuring {
		return nil, fmt.Errorf("the run ended before its warm-up did")
	}

	res := &results{Mode: "fleet", URL: o.url, Concurrency: conc, Rate: offered, Agents: n, ElapsedS: measuredFor.Seconds()}
	var total epStatsSum
	for _, ep := range []int{epHeartbeat, epUnchanged, epChanged, epReport} {
		r := collect(workers, ep, measuredFor)
		if r.Requests == 0 {
			continue
		}
		res.Endpoints = append(res.Endpoints, r)
		if ep != epReport { // the kinds' sum
			total.add(r)
		}
	}
	res.Requests, res.Errors = total.requests, total.errors
	res.RPS = float64(total.requests) / measuredFor.Seconds()
	res.Fleet = &loadresult.Fleet{
		Interval: o.interval.String(), ReportInterval: o.reportInterval.String(), Jitter: o.jitter, ChangedShare: o.changed,
		WarmupS: o.warmup.Seconds(), OfferedRPS: offered, MaxInFlight: conc, MaxLagMs: float64(o.maxLag.Milliseconds()),
		Late: uint64(f.late.Load()), Dropped: uint64(f.dropped.Load()), GeneratorCores: genCPU / measuredFor.Seconds(),
	}
	return res, nil
}

// jittered is d scaled by a uniform factor in [1-j, 1+j].
func jittered(rng *rand.Rand, d time.Duration, j float64) time.Duration {
	return time.Duration(float64(d) * (1 + j*(2*rng.Float64()-1)))
}

// send sends one scheduled request, recording it when it was scheduled after the warm-up.
func (f *fleet) send(ctx context.Context, w *worker, c *rawConn, ev fleetEvent) {
	scheduled := f.start.Add(time.Duration(ev.at))
	lag := time.Since(scheduled)
	measured := ev.at >= f.measure
	if lag > f.o.maxLag {
		if measured {
			f.dropped.Add(1)
		}
		return
	}
	if measured && lag > lateAfter {
		f.late.Add(1)
	}
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	a := &f.agents[ev.agent]
	ep, ok := epHeartbeat, false
	if ev.kind == epHeartbeat {
		w.buf = appendHeartbeat(w.buf[:0], int(ev.agent))
		ok = f.post(ctx, w, c, f.hbPath, a.key, w.buf, scheduled, measured, ep, nil)
	} else {
		a.mu.Lock()
		defer a.mu.Unlock()
		ep = epUnchanged
		body := a.last
		if body == nil {
			body = f.baseline
		}
		changed := w.rng.Float64() < f.o.changed
		if changed {
			ep = epChanged
			a.rev++
			body = f.sim.reportBody(int(ev.agent), 0, a.rev)
		}
		known := a.synced
		ok = f.post(ctx, w, c, f.repPath, a.key, body, scheduled, measured, ep, func(r *reportAnswer) (int, bool) {
			switch {
			case changed:
				return epChanged, !r.Unchanged && r.ServersUpdated > 0
			case !r.Unchanged && !known:
				// An earlier run left this agent changed; the baseline changes it back.
				return epChanged, r.ServersUpdated > 0
			}
			return epUnchanged, r.Unchanged
		})
		if ok && changed {
			a.last = body
		}
		a.synced = a.synced || ok
	}
	if ctx.Err() != nil {
		return
	}
	f.sent.Add(1)
	if measured && !ok {
		f.failed.Add(1)
	}
}

// reportAnswer is what the fleet checks of a report's answer.
type reportAnswer struct {
	Unchanged      bool  `json:"unchanged"`
	ServersUpdated int64 `json:"servers_updated"`
}

// post sends one request and records its latency from the scheduled time. check, for reports,
// says from the answer which kind of report it was, and whether the answer is what that kind
// expects; a 200 that is not counts as unexpected.
func (f *fleet) post(ctx context.Context, w *worker, c *rawConn, path, key string, body []byte, scheduled time.Time, measured bool, ep int, check func(*reportAnswer) (int, bool)) bool {
	code, answer, err := c.post(path, key, body)
	var ans reportAnswer
	decoded := false
	if err == nil && check != nil && code == http.StatusOK {
		decoded = json.Unmarshal(answer, &ans) == nil
	}
	if ctx.Err() != nil || !measured {
		return err == nil && code == http.StatusOK
	}
	took := time.Since(scheduled)
	expected := true
	if check != nil && decoded {
		ep, expected = check(&ans)
	}
	eps := []int{ep}
	if check != nil {
		eps = append(eps, epReport)
	}
	for _, e := range eps {
		st := w.ep(e)
		st.hist.record(took)
		switch {
		case err != nil:
			st.transport++
		case code != http.StatusOK:
			st.status[code]++
		default:
			st.status[code]++
			if check != nil && (!decoded || !expected) {
				st.unexpected++
			}
		}
	}
	return err == nil && code == http.StatusOK
}

// appendHeartbeat appends agent i's heartbeat, as the agents mode sends it. `mcpwarden seed
// --keys-file` gives the agents it writes keys for these same details, so that their heartbeats
// change nothing stored.
func appendHeartbeat(b []byte, i int) []byte {
	return fmt.Appendf(b, `{"agent_version":"0.2.0","hostname":"loadgen-%06d.local","os_type":"linux","username":"dev"}`, i)
}

// selfCPU is the CPU time this process has used, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
