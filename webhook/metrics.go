package webhook

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pruneguard/pruneguard/internal/metrics"
)

// Reasons a request was allowed without its references being recorded, the values of the
// "reason" label of pruneguard_webhook_problems_total.
const (
	reasonRead        = "read-body"
	reasonMalformed   = "malformed-review"
	reasonNoRequest   = "no-request"
	reasonDecode      = "decode-object"
	reasonExtract     = "extract"
	reasonUnknownKind = "unexpected-kind"
	reasonInvalidRef  = "invalid-reference"
	reasonWrite       = "index-write"
	reasonWriteSlow   = "index-write-timeout"
	reasonQueueFull   = "queue-full"
)

// Metrics are the webhook's Prometheus metrics.
type Metrics struct {
	// Latency is the handler time of each review, from the first byte read to the last written.
	Latency prometheus.Histogram
	// Requests counts reviews by decision ("allowed", "denied").
	Requests *prometheus.CounterVec
	// Problems counts the trouble the handler absorbed, by reason (see the reason constants).
	Problems *prometheus.CounterVec
	// Pending counts pending records written.
	Pending prometheus.Counter
	// BatchSize observes how many pending records each group commit carried.
	BatchSize prometheus.Histogram
	// RecordWait is how long a request waited for its pending record to be committed: the
	// part of Latency spent on the index (queueing behind a commit in progress, then its own).
	RecordWait prometheus.Histogram
}

// NewMetrics creates the webhook metrics and registers them with reg. A metric that reg
// already holds (a second server in one process, as in tests) is reused, not an error.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pruneguard_webhook_latency_seconds",
			Help: "Time the admission handler spent on a review, reading and answering included.",
			// 25 µs to ~100 ms: the handler's budget is well under a millisecond; the upper
			// buckets show index stalls (a request waits at most the write timeout).
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 13),
		}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pruneguard_webhook_requests_total",
			Help: "Admission reviews answered, by decision.",
		}, []string{"decision"}),
		Problems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pruneguard_webhook_problems_total",
			Help: "Reviews allowed without recording their references, or with a warning, by reason.",
		}, []string{"reason"}),
		Pending: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pruneguard_webhook_pending_writes_total",
			Help: "Pending reference records written by the admission webhook.",
		}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pruneguard_webhook_commit_batch_size",
			Help:    "Pending records per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		RecordWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pruneguard_webhook_record_wait_seconds",
			Help: "Time an admission waited for its pending record to be committed to the index.",
			// The same buckets as the handler latency, so the two can be compared.
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 13),
		}),
	}
	var errs []error
	m.Latency = metrics.RegisterTo(reg, m.Latency, &errs)
	m.Requests = metrics.RegisterTo(reg, m.Requests, &errs)
	m.Problems = metrics.RegisterTo(reg, m.Problems, &errs)
	m.Pending = metrics.RegisterTo(reg, m.Pending, &errs)
	m.BatchSize = metrics.RegisterTo(reg, m.BatchSize, &errs)
	m.RecordWait = metrics.RegisterTo(reg, m.RecordWait, &errs)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}
