package serve

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus series, in a registry of its own (no
// package-level state), exposed at /metrics.
type metrics struct {
	reg         *prometheus.Registry
	queueDepth  prometheus.Gauge
	active      prometheus.Gauge
	batchSize   prometheus.Histogram
	stepSeconds prometheus.Histogram
	tokens      prometheus.Counter
	prefixHits  prometheus.Counter
	promptToks  prometheus.Counter
	ttft        prometheus.Histogram
	latency     *prometheus.HistogramVec
	requests    *prometheus.CounterVec
	finished    *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.queueDepth = prometheus.NewGauge(prometheus.GaugeOpts{Name: "whisperc_serve_queue_depth",
		Help: "Requests waiting for a batch slot."})
	m.active = prometheus.NewGauge(prometheus.GaugeOpts{Name: "whisperc_serve_active_sequences",
		Help: "Sequences in the decode batch."})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "whisperc_serve_batch_size",
		Help: "Sequences advanced by one pass over the weights.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128}})
	m.stepSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "whisperc_serve_step_seconds",
		Help: "Wall time of one batched forward pass.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)})
	m.tokens = prometheus.NewCounter(prometheus.CounterOpts{Name: "whisperc_serve_generated_tokens_total",
		Help: "Tokens generated; its rate is the server's tokens per second."})
	m.promptToks = prometheus.NewCounter(prometheus.CounterOpts{Name: "whisperc_serve_prompt_tokens_total",
		Help: "Prompt tokens received."})
	m.prefixHits = prometheus.NewCounter(prometheus.CounterOpts{Name: "whisperc_serve_prefix_cache_tokens_total",
		Help: "Prompt tokens whose keys and values came from the prefix cache instead of being computed."})
	m.ttft = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "whisperc_serve_time_to_first_token_seconds",
		Help: "Time from a request's arrival to its first generated token.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "whisperc_serve_request_duration_seconds",
		Help: "Time from a request's arrival to its last byte.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 18)}, []string{"endpoint"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "whisperc_serve_requests_total",
		Help: "HTTP requests by endpoint and status code."}, []string{"endpoint", "code"})
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "whisperc_serve_finished_total",
		Help: "Generations by finish reason (stop, length, cancelled, error)."}, []string{"reason"})
	m.reg.MustRegister(m.queueDepth, m.active, m.batchSize, m.stepSeconds, m.tokens, m.promptToks, m.prefixHits,
		m.ttft, m.latency, m.requests, m.finished,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
