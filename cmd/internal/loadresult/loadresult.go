// Package loadresult is the JSON that mcpwarden-loadgen writes with --json and mcpwarden-bench
// reads: one definition for both sides.
package loadresult

// Endpoint is one endpoint's figures in a run.
type Endpoint struct {
	Name     string `json:"name"`
	Requests uint64 `json:"requests"`
	// Errors are requests without a 2xx answer (including transport failures).
	Errors uint64 `json:"errors"`
	// Unexpected are 200 answers that contradict the report kind (an "unchanged" report the
	// server did not find unchanged, say).
	Unexpected uint64            `json:"unexpected,omitempty"`
	Status     map[string]uint64 `json:"status"`
	ElapsedS   float64           `json:"elapsed_s"`
	RPS        float64           `json:"rps"`
	MeanMs     float64           `json:"mean_ms"`
	P50Ms      float64           `json:"p50_ms"`
	P95Ms      float64           `json:"p95_ms"`
	P99Ms      float64           `json:"p99_ms"`
	MaxMs      float64           `json:"max_ms"`
	// Query is the request line, in queries mode.
	Query string `json:"query,omitempty"`
	Items int    `json:"items,omitempty"`
}

// Results is a whole run.
type Results struct {
	Mode        string     `json:"mode"`
	URL         string     `json:"url"`
	Concurrency int        `json:"concurrency"`
	Rate        float64    `json:"rate,omitempty"`
	Agents      int        `json:"agents,omitempty"`
	ElapsedS    float64    `json:"elapsed_s"`
	Requests    uint64     `json:"requests"`
	Errors      uint64     `json:"errors"`
	RPS         float64    `json:"rps"`
	Prime       *Endpoint  `json:"prime,omitempty"`
	Endpoints   []Endpoint `json:"endpoints"`
	// Fleet is the fleet mode's schedule and how well the generator kept it; its endpoints'
	// latencies run from each request's scheduled time.
	Fleet *Fleet `json:"fleet,omitempty"`
}

// Fleet describes a fleet-mode run. Late requests started over 10 ms after their scheduled time
// (the generator or its in-flight bound held them); dropped ones could not start within
// MaxLagMs and were not sent. Both count only the measured window, after WarmupS.
type Fleet struct {
	Interval       string  `json:"interval"`
	ReportInterval string  `json:"report_interval"`
	Jitter         float64 `json:"jitter"`
	ChangedShare   float64 `json:"changed_share"`
	WarmupS        float64 `json:"warmup_s"`
	OfferedRPS     float64 `json:"offered_rps"`
	MaxInFlight    int     `json:"max_in_flight"`
	MaxLagMs       float64 `json:"max_lag_ms"`
	Late           uint64  `json:"late"`
	Dropped        uint64  `json:"dropped"`
	// GeneratorCores is the CPU the load generator itself used in the measured window.
	GeneratorCores float64 `json:"generator_cores"`
}

// Endpoint returns the figures of the named endpoint, or an empty record when it did not run.
func (r *Results) Endpoint(name string) Endpoint {
	for _, e := range r.Endpoints {
		if e.Name == name {
			return e
		}
	}
	return Endpoint{Name: name}
}
