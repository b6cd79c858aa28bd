package tracker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pruneguard/pruneguard/internal/metrics"
)

// Metrics are the tracker's Prometheus metrics.
type Metrics struct {
	// EventsApplied counts index ops applied from watch events and catch-ups.
	EventsApplied prometheus.Counter
	// ApplyErrors counts ops the index refused (each is logged; verify shows the difference).
	ApplyErrors prometheus.Counter
	// Expired counts pending records removed because their object never appeared.
	Expired prometheus.Counter
	// Synced is 1 once the index has caught up with the cluster.
	Synced prometheus.Gauge
	// Queued is the number of objects with an event waiting to be applied.
	Queued prometheus.Gauge
}

// NewMetrics creates the tracker metrics and registers them with reg, reusing any that reg
// already holds (a second tracker in one process, as in tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
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
	}
	var err error
	if m.EventsApplied, err = metrics.Register(reg, m.EventsApplied); err != nil {
		return nil, err
	}
	if m.ApplyErrors, err = metrics.Register(reg, m.ApplyErrors); err != nil {
		return nil, err
	}
	if m.Expired, err = metrics.Register(reg, m.Expired); err != nil {
		return nil, err
	}
	if m.Synced, err = metrics.Register(reg, m.Synced); err != nil {
		return nil, err
	}
	if m.Queued, err = metrics.Register(reg, m.Queued); err != nil {
		return nil, err
	}
	return m, nil
}
