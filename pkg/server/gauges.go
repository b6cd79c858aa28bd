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
	var err error
	if g.references, err = metrics.Register(reg, g.references); err != nil {
		return nil, err
	}
	if g.pending, err = metrics.Register(reg, g.pending); err != nil {
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
