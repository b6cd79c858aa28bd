package server

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pruneguard/pruneguard/pkg/index"
)

// IndexGaugesRefresher registers the index gauges of ix on reg and returns their refresh, for
// the external tests.
func IndexGaugesRefresher(reg prometheus.Registerer, ix *index.Index) (func(context.Context), error) {
	g, err := newIndexGauges(reg, ix, time.Hour, logr.Discard())
	if err != nil {
		return nil, err
	}
	return g.refresh, nil
}
