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
