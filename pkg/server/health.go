package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
)

// healthHandler serves /healthz (the process answers: liveness) and /readyz (the index is in
// sync with the cluster and the webhook accepts TLS connections: readiness). They are separate
// on purpose: a replica rebuilding its index is alive and must not be restarted, but must not
// receive admission requests that it would answer without a usable index either.
func (s *Server) healthHandler() http.Handler {
	ready := map[string]healthz.Checker{"index-synced": s.tracker.Ready}
	if s.webhook != nil {
		ready["webhook"] = s.webhook.StartedChecker()
	}
	if s.o.Fences != nil {
		ready["fences"] = s.o.Fences.Ready
	}
	mux := http.NewServeMux()
	live := &healthz.Handler{Checks: map[string]healthz.Checker{"ping": healthz.Ping}}
	readyz := &healthz.Handler{Checks: ready}
	mux.Handle("/healthz", http.StripPrefix("/healthz", live))
	mux.Handle("/healthz/", http.StripPrefix("/healthz", live))
	mux.Handle("/readyz", http.StripPrefix("/readyz", readyz))
	mux.Handle("/readyz/", http.StripPrefix("/readyz", readyz))
	return mux
}

// metricsHandler serves the registry's metrics at /metrics.
func metricsHandler(reg Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
