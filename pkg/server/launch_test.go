package server_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pruneguard/pruneguard/pkg/server"
)

// launch builds a server from o (see build) and runs it (see run).
func launch(t *testing.T, o server.Options) (*server.Server, func()) {
	t.Helper()
	srv := build(t, o)
	return srv, run(t, srv)
}

// build builds a server from o, with a fresh registry, a data directory, no metrics or health
// listener and the test logger unless o says otherwise.
func build(t *testing.T, o server.Options) *server.Server {
	t.Helper()
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.MetricsBindAddress == "" {
		o.MetricsBindAddress = server.Disabled
	}
	if o.HealthProbeBindAddress == "" {
		o.HealthProbeBindAddress = server.Disabled
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	o.Logger = testLogger(t)
	srv, err := server.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// run runs srv until the returned stop is called or the test ends. Unlike runServer it does
// not wait for anything: the caller decides what to wait for.
func run(t *testing.T, srv *server.Server) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}
