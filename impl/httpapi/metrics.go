package httpapi

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"
)

// unmatched is the operation label of requests that matched no operation (404, 405).
const unmatched = "unmatched"

// Metrics counts requests and times them by OpenAPI operationId and status class: the labels
// come from the spec, so their number is bounded whatever the callers send. Every series is
// created up front, so that a request costs a lookup of its operation by pointer and a few
// atomic adds, never a label lookup or an allocation.
type Metrics struct {
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	opIndex   map[*openapi3.Operation]int
	counters  [][5]prometheus.Counter // by operation index, then status class (1xx..5xx)
	observers []prometheus.Observer   // by operation index
}

// NewMetrics returns the edge's metrics; register its Collectors, and pass it in Options.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpwarden_http_requests_total",
			Help: "Requests answered, by OpenAPI operationId and status class (2xx, 4xx, ...).",
		}, []string{"operation", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mcpwarden_http_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer, by OpenAPI operationId.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
	}
}

// bind creates the series of every operation of spec; New calls it before serving.
func (m *Metrics) bind(spec *openapi3.T) {
	m.opIndex = map[*openapi3.Operation]int{}
	var ops []*openapi3.Operation
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			ops = append(ops, op)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].OperationID < ops[j].OperationID })
	names := make([]string, 0, len(ops)+1)
	for i, op := range ops {
		m.opIndex[op] = i
		names = append(names, operationLabel(op.OperationID))
	}
	names = append(names, unmatched)
	m.counters = make([][5]prometheus.Counter, len(names))
	m.observers = make([]prometheus.Observer, len(names))
	for i, name := range names {
		for class := range 5 {
			m.counters[i][class] = m.requests.WithLabelValues(name, strconv.Itoa(class+1)+"xx")
		}
		m.observers[i] = m.durations.WithLabelValues(name)
	}
}

// Collectors are what to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.durations}
}

// operation returns the index of op's series (unmatched for nil or unknown).
func (m *Metrics) operation(op *openapi3.Operation) int {
	if i, ok := m.opIndex[op]; ok {
		return i
	}
	return len(m.observers) - 1
}

// observe records one answered request.
func (m *Metrics) observe(op int, status int, took time.Duration) {
	class := status/100 - 1
	if class < 0 || class > 4 {
		class = http.StatusInternalServerError/100 - 1
	}
	m.counters[op][class].Inc()
	m.observers[op].Observe(took.Seconds())
}

// operationLabel spells an operationId as openapi.yaml does (camelCase): the embedded copy of the
// spec that the edge loads starts each with a capital.
func operationLabel(id string) string {
	if id == "" {
		return unmatched
	}
	return strings.ToLower(id[:1]) + id[1:]
}
