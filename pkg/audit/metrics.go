package audit

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pruneguard/pruneguard/internal/metrics"
)

// Values of the "reason" label of pruneguard_admissions_denied_total.
const (
	// DeniedFenced: the object referenced an image being deleted (fenced).
	DeniedFenced = "fenced"
	// DeniedPruned: the object referenced an image pruned recently (tombstone).
	DeniedPruned = "pruned"
)

// Metrics are the pruning metrics. The pruner records deletes and prune passes, the fence
// keeps FencesActive, the webhook counts denials. Reference counts and webhook latency are the
// tracker's and the webhook's own metrics.
type Metrics struct {
	// ImagesPruned counts Image objects deleted.
	ImagesPruned prometheus.Counter
	// BytesPruned counts the bytes of the blobs deleted from the registry.
	BytesPruned prometheus.Counter
	// PruneDuration observes one prune pass: plan and execution.
	PruneDuration prometheus.Histogram
	// TimeToPrune observes, per deleted image, the time from the moment policy made it
	// prunable (its last protection ended) to its deletion: how "continuous" pruning is.
	TimeToPrune prometheus.Histogram
	// FencesActive is the number of fences currently raised (tombstones included).
	FencesActive prometheus.Gauge
	// AdmissionsDenied counts objects the webhook denied, by reason (DeniedFenced,
	// DeniedPruned).
	AdmissionsDenied *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg. A metric that reg already
// holds (a second pruner in one process, as in tests) is reused, not an error.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		ImagesPruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pruneguard_images_pruned_total",
			Help: "Image objects deleted by the pruner.",
		}),
		BytesPruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pruneguard_bytes_pruned_total",
			Help: "Bytes of the blobs the pruner deleted from the registry.",
		}),
		PruneDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pruneguard_prune_duration_seconds",
			Help: "Duration of one prune pass, planning and execution.",
			// 10 ms to ~1.5 h: a continuous pass over a few candidates takes milliseconds,
			// a one-shot prune of a large registry can take an hour.
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 20),
		}),
		TimeToPrune: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pruneguard_time_to_prune_seconds",
			Help: "Time from an image becoming prunable to its deletion.",
			// 1 s to ~36 h: seconds when pruning continuously, up to a day for a daily
			// CronJob, the schedule pruneguard replaces.
			Buckets: prometheus.ExponentialBuckets(1, 2, 18),
		}),
		FencesActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pruneguard_fences_active",
			Help: "Fences currently raised on images being deleted or recently pruned.",
		}),
		AdmissionsDenied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pruneguard_admissions_denied_total",
			Help: "Objects denied by the webhook because they reference a fenced or pruned image, by reason.",
		}, []string{"reason"}),
	}
	var errs []error
	m.ImagesPruned = metrics.RegisterTo(reg, m.ImagesPruned, &errs)
	m.BytesPruned = metrics.RegisterTo(reg, m.BytesPruned, &errs)
	m.PruneDuration = metrics.RegisterTo(reg, m.PruneDuration, &errs)
	m.TimeToPrune = metrics.RegisterTo(reg, m.TimeToPrune, &errs)
	m.FencesActive = metrics.RegisterTo(reg, m.FencesActive, &errs)
	m.AdmissionsDenied = metrics.RegisterTo(reg, m.AdmissionsDenied, &errs)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// ImagePruned records the delete of an image of size bytes that became prunable at since
// (zero when unknown: no time-to-prune is observed then).
func (m *Metrics) ImagePruned(bytes int64, since, now time.Time) {
	m.ImagesPruned.Inc()
	if bytes > 0 {
		m.BytesPruned.Add(float64(bytes))
	}
	if !since.IsZero() && !now.Before(since) {
		m.TimeToPrune.Observe(now.Sub(since).Seconds())
	}
}

// PruneFinished records a prune pass that took d.
func (m *Metrics) PruneFinished(d time.Duration) { m.PruneDuration.Observe(d.Seconds()) }

// AdmissionDenied counts one denied object; reason is DeniedFenced or DeniedPruned.
func (m *Metrics) AdmissionDenied(reason string) { m.AdmissionsDenied.WithLabelValues(reason).Inc() }

// SetFencesActive sets the number of raised fences (the fence owner counts them from the API,
// so the gauge is right after a restart too).
func (m *Metrics) SetFencesActive(n int) { m.FencesActive.Set(float64(n)) }
