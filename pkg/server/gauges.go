package server

import (
	"context"
	"errors"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pruneguard/pruneguard/internal/metrics"
	"github.com/pruneguard/pruneguard/pkg/index"
)

// defaultStatsInterval is how often the index size gauges are refreshed. Counting is a
// key-only scan of the whole index (about a second per few million keys on two cores), so it
// runs every half minute rather than on every scrape.
const defaultStatsInterval = 30 * time.Second

// indexGauges refreshes the index size gauges from Index.Stats.
type indexGauges struct {
	ix         *index.Index
	interval   time.Duration
	log        logr.Logger
	references prometheus.Gauge
	pending    prometheus.Gauge
	// The record cache's figures; hits and misses are counters fed with what the index
	// counted since the last refresh.
	cacheBytes, cacheEntries prometheus.Gauge
	cacheLookups             *prometheus.CounterVec
	lastCache                index.RecordCacheStats
	// The object states' figures, fed the same way.
	states     prometheus.Gauge
	stateReads prometheus.Counter
	lastStates index.ObjectStateStats
}

func newIndexGauges(reg prometheus.Registerer, ix *index.Index, interval time.Duration, log logr.Logger) (*indexGauges, error) {
	if interval <= 0 {
		interval = defaultStatsInterval
	}
	g := &indexGauges{ix: ix, interval: interval, log: log,
		references: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pruneguard_references",
			Help: "Confirmed image references in the index (by digest and by tag).",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pruneguard_pending_references",
			Help: "References recorded at admission and not yet confirmed by a watch.",
		}),
	}
	g.cacheBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pruneguard_index_record_cache_bytes",
		Help: "Memory the index's record cache holds (keys, records and a fixed overhead per entry); its budget is --index-record-cache.",
	})
	g.cacheEntries = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pruneguard_index_record_cache_entries",
		Help: "Object records the index's record cache holds.",
	})
	g.cacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pruneguard_index_record_cache_lookups_total",
		Help: "Record lookups of index updates by result: hit (served from the record cache) or miss (read from Badger). Many misses with a full cache mean --index-record-cache is too small for the cluster.",
	}, []string{"result"})
	g.states = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pruneguard_index_object_states",
		Help: "Objects whose creation time, first-seen time and phase the index holds in memory for lookups (about 120 bytes each).",
	})
	g.stateReads = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pruneguard_index_object_state_record_reads_total",
		Help: "Referrers whose creation time and phase a lookup read from the object's record instead of memory, because the object changed while the lookup ran.",
	})
	var errs []error
	g.references = metrics.RegisterTo(reg, g.references, &errs)
	g.pending = metrics.RegisterTo(reg, g.pending, &errs)
	g.cacheBytes = metrics.RegisterTo(reg, g.cacheBytes, &errs)
	g.cacheEntries = metrics.RegisterTo(reg, g.cacheEntries, &errs)
	g.cacheLookups = metrics.RegisterTo(reg, g.cacheLookups, &errs)
	g.states = metrics.RegisterTo(reg, g.states, &errs)
	g.stateReads = metrics.RegisterTo(reg, g.stateReads, &errs)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *indexGauges) run(ctx context.Context) error {
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		g.refresh(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (g *indexGauges) refresh(ctx context.Context) {
	g.refreshCache()
	st, err := g.ix.Stats(ctx)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, index.ErrRebuilding) {
			g.log.V(1).Info("failed to count index keys", "error", err.Error())
		}
		return
	}
	g.references.Set(float64(st.Keys["ref-by-digest"] + st.Keys["ref-by-tag"]))
	g.pending.Set(float64(st.Keys["ref-by-digest/pending"] + st.Keys["ref-by-tag/pending"]))
}

// refreshCache publishes the record cache's and the object states' figures. It needs no
// scan, so it runs even while the index is being rebuilt.
func (g *indexGauges) refreshCache() {
	c := g.ix.RecordCacheStats()
	g.cacheBytes.Set(float64(c.Bytes))
	g.cacheEntries.Set(float64(c.Entries))
	g.cacheLookups.WithLabelValues("hit").Add(float64(max(c.Hits-g.lastCache.Hits, 0)))
	g.cacheLookups.WithLabelValues("miss").Add(float64(max(c.Misses-g.lastCache.Misses, 0)))
	g.lastCache = c
	s := g.ix.ObjectStateStats()
	g.states.Set(float64(s.Entries))
	g.stateReads.Add(float64(max(s.RecordReads-g.lastStates.RecordReads, 0)))
	g.lastStates = s
}
