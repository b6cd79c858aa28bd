package tracker

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pruneguard/pruneguard/internal/metrics"
)

// Reasons a kind is listed in full (the reason label of pruneguard_tracker_relists_total).
const (
	// relistRebuild: the index was new or unusable and is rebuilt from lists.
	relistRebuild = "rebuild"
	// relistNoWatermark: the index holds no resume point for the kind (an index written
	// before watermarks existed, or a kind whose API appeared since).
	relistNoWatermark = "no-watermark"
	// relistExpired: the API server no longer holds the events after the resume point
	// (410 Gone: "too old resource version").
	relistExpired = "expired"
)

// Start-up phases (the phase label of pruneguard_tracker_start_seconds).
const (
	phaseList     = "list"
	phaseRequests = "list-requests"
	phaseExtract  = "extract"
	phaseWrite    = "write"
	phaseFinish   = "finish"
	phaseCatchUp  = "catch-up"
)

// Metrics are the tracker's Prometheus metrics.
type Metrics struct {
	// EventsApplied counts index ops applied from watch events and catch-ups (watermarks
	// not included).
	EventsApplied prometheus.Counter
	// ApplyErrors counts ops the index refused (each is logged; verify shows the difference).
	ApplyErrors prometheus.Counter
	// Expired counts pending records removed because their object never appeared.
	Expired prometheus.Counter
	// Synced is 1 once the index has caught up with the cluster.
	Synced prometheus.Gauge
	// Queued is the number of objects with an event waiting to be applied.
	Queued prometheus.Gauge
	// Relists counts full lists of a kind, by reason; a warm restart that resumes every
	// watch adds nothing.
	Relists *prometheus.CounterVec
	// ListRequests counts list requests (pages) sent to the API server.
	ListRequests prometheus.Counter
	// Resumes counts kinds whose watch resumed from a persisted watermark.
	Resumes prometheus.Counter
	// StartSeconds is where the last start-up spent its time, by phase: "list" (wall time
	// of all lists), "list-requests" and "extract" (summed over the kinds listed in
	// parallel: waiting for and decoding pages, extracting objects), "write" (writing the
	// rebuild batch), "finish" (blob counts and compaction of a rebuild), "catch-up" (from
	// the lists or the resume until every kind is caught up and its events are applied).
	StartSeconds *prometheus.GaugeVec
}

// NewMetrics creates the tracker metrics and registers them with reg, reusing any that reg
// already holds (a second tracker in one process, as in tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := newMetrics()
	var errs []error
	m.EventsApplied = metrics.RegisterTo(reg, m.EventsApplied, &errs)
	m.ApplyErrors = metrics.RegisterTo(reg, m.ApplyErrors, &errs)
	m.Expired = metrics.RegisterTo(reg, m.Expired, &errs)
	m.Synced = metrics.RegisterTo(reg, m.Synced, &errs)
	m.Queued = metrics.RegisterTo(reg, m.Queued, &errs)
	m.Relists = metrics.RegisterTo(reg, m.Relists, &errs)
	m.ListRequests = metrics.RegisterTo(reg, m.ListRequests, &errs)
	m.Resumes = metrics.RegisterTo(reg, m.Resumes, &errs)
	m.StartSeconds = metrics.RegisterTo(reg, m.StartSeconds, &errs)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

func newMetrics() *Metrics {
	return &Metrics{
		EventsApplied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pruneguard_index_events_applied_total",
			Help: "Index writes applied from watch events and start-up catch-up.",
		}),
		ApplyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pruneguard_index_apply_errors_total",
			Help: "Index writes from watch events that failed.",
		}),
		Expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pruneguard_pending_expired_total",
			Help: "Pending references removed because their object never appeared in a watch.",
		}),
		Synced: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pruneguard_index_synced",
			Help: "1 once the index has caught up with the cluster after start-up.",
		}),
		Queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pruneguard_tracker_queued_objects",
			Help: "Objects with a watch event not yet applied to the index.",
		}),
		Relists: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pruneguard_tracker_relists_total",
			Help: "Full lists of a kind, by reason (rebuild, no-watermark, expired); resumed watches list nothing.",
		}, []string{"reason"}),
		ListRequests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pruneguard_tracker_list_requests_total",
			Help: "List requests (pages) the tracker sent to the API server.",
		}),
		Resumes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pruneguard_tracker_resumes_total",
			Help: "Kinds whose watch resumed from the resourceVersion persisted in the index.",
		}),
		StartSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pruneguard_tracker_start_seconds",
			Help: "Where the last start-up spent its time, by phase (list, list-requests, extract, write, finish, catch-up).",
		}, []string{"phase"}),
	}
}
