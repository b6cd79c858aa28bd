package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/certs"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/scheme"
	"github.com/pruneguard/pruneguard/pruner"
	"github.com/pruneguard/pruneguard/tracker"
	"github.com/pruneguard/pruneguard/webhook"
)

// Defaults of Options, matching the chart's values.
const (
	DefaultWebhookPort            = 9443
	DefaultMetricsBindAddress     = ":8080"
	DefaultHealthProbeBindAddress = ":8081"
	DefaultLeaderElectionID       = "pruneguard-leader"
	// Disabled as a bind address turns the endpoint off, as in controller-runtime.
	Disabled = "0"
)

// Registry is where metrics are registered and read from: controller-runtime's registry in
// production (so its webhook, cache and client metrics are served too), a fresh one in tests.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Options configure a Server. Config and DataDir are required; CertDir is required unless
// WebhookPort is negative (no webhook, as for a tracker-only replica in tests).
type Options struct {
	Config  *rest.Config
	DataDir string
	// RecordCacheBytes is the budget of the index's record cache (index.Options): 0 means
	// index.DefaultRecordCacheBytes, a negative value disables it.
	RecordCacheBytes int64
	// WebhookHost and WebhookPort are where the TLS webhook listens ("" is every interface).
	WebhookHost string
	WebhookPort int
	// CertDir holds tls.crt and tls.key, reloaded when they change; unused with SelfSigned.
	CertDir string
	// SelfSigned, when set, makes pruneguard issue and rotate its own certificate.
	SelfSigned *SelfSigned
	// MetricsInsecure serves MetricsBindAddress as plain HTTP with metrics only and no
	// authentication. By default it is HTTPS (the webhook's certificate) with the audit API,
	// and /metrics requires `get /metrics`.
	MetricsInsecure bool
	// Identity names this replica (its pod name) in the audit trail and fences.
	Identity string
	// MetricsBindAddress and HealthProbeBindAddress are plain-HTTP listen addresses, or
	// Disabled.
	MetricsBindAddress     string
	HealthProbeBindAddress string
	// LeaderElect runs OnLeader only while this replica holds the Lease LeaderElectionID in
	// LeaderElectionNamespace ("" means the service account's namespace).
	LeaderElect             bool
	LeaderElectionNamespace string
	LeaderElectionID        string
	// Lease is the timing of leader election; zero fields mean the defaults.
	Lease LeaseTiming
	// OnLeader is the leader's work; nil means none. Without LeaderElect it runs
	// unconditionally. Pruning sets it to the continuous pruner.
	OnLeader func(ctx context.Context) error
	// Pruning, when set, makes the leader prune continuously through the fence.
	Pruning *Pruning
	// PendingTTL is how long an admitted reference waits for its object to appear.
	PendingTTL time.Duration
	// Fence is consulted by the webhook; nil fences nothing.
	Fence webhook.Fence
	// Fences, when set, is the fence watcher that keeps Fence's set current (pkg/fence): it
	// runs with the other parts, and the replica is not ready before it has listed the
	// fences, so that no admission is answered without them.
	Fences FenceWatcher
	// Registry defaults to controller-runtime's metrics registry.
	Registry Registry
	Logger   logr.Logger
	// Intervals of the tracker's discovery and pending sweep, and of the index size gauges;
	// zero means each part's default.
	DiscoveryInterval, SweepInterval, StatsInterval time.Duration
}

// FenceWatcher keeps the fences a replica enforces; *fence.Watcher implements it.
type FenceWatcher interface {
	Run(ctx context.Context) error
	Ready(*http.Request) error
}

// Server is `pruneguard serve`: every part constructed, none running until Run.
type Server struct {
	o         Options
	ix        *index.Index
	tracker   *tracker.Tracker
	committer *webhook.Committer
	webhook   ctrlwebhook.Server
	gauges    *indexGauges

	// Recorder records audit trail entries; Metrics are the pruning metrics. Both are for
	// the pruner that runs on the leader.
	Recorder *audit.Recorder
	Metrics  *audit.Metrics

	trail      *audit.Trail
	events     events.EventBroadcaster
	apiHandler http.Handler
	keeper     *certs.Keeper
	getCert    func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// continuous is the running continuous pruner, while this replica leads.
	continuous atomic.Pointer[pruner.Continuous]
	runCert    func(context.Context) error
}

// New opens the index in o.DataDir and builds every part. On error nothing is left open.
func New(o Options) (*Server, error) {
	if o.Config == nil || o.DataDir == "" {
		return nil, errors.New("server: Config and DataDir are required")
	}
	if o.Registry == nil {
		o.Registry = ctrlmetrics.Registry
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = DefaultLeaderElectionID
	}
	ix, err := index.Open(index.Options{Dir: o.DataDir, Logger: o.Logger.WithName("index"), RecordCacheBytes: o.RecordCacheBytes})
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, ix: ix}
	if o.Pruning != nil {
		if o.OnLeader != nil {
			return nil, errors.Join(errors.New("server: Pruning and OnLeader exclude each other"), ix.Close())
		}
		s.o.OnLeader = s.runPruning
	}
	if err := s.build(); err != nil {
		var trailErr error
		if s.trail != nil {
			trailErr = s.trail.Close()
		}
		return nil, errors.Join(err, trailErr, ix.Close())
	}
	return s, nil
}

func (s *Server) build() error {
	o := s.o
	tm, err := tracker.NewMetrics(o.Registry)
	if err != nil {
		return err
	}
	if s.gauges, err = newIndexGauges(o.Registry, s.ix, o.StatsInterval, o.Logger); err != nil {
		return err
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	if err := s.buildAPI(c); err != nil {
		return err
	}
	s.tracker, err = tracker.New(tracker.Options{
		Config: o.Config, Scheme: scheme.New(), Index: s.ix, Metrics: tm, Logger: o.Logger.WithName("tracker"),
		DiscoveryInterval: o.DiscoveryInterval, SweepInterval: o.SweepInterval,
		OnApplied: s.kickPruner,
	})
	if err != nil {
		return err
	}
	if o.WebhookPort < 0 {
		return nil
	}
	if o.CertDir == "" && o.SelfSigned == nil {
		return errors.New("server: CertDir or SelfSigned is required to serve the webhook")
	}
	if s.getCert, s.runCert, err = s.certSource(c); err != nil {
		return err
	}
	wm, err := webhook.NewMetrics(o.Registry)
	if err != nil {
		return err
	}
	spec, err := chart.Webhook()
	if err != nil {
		return err
	}
	log := o.Logger.WithName("webhook")
	s.committer = webhook.NewCommitter(s.ix, log, func(n int) { wm.BatchSize.Observe(float64(n)) })
	h := webhook.NewHandler(webhook.Options{Recorder: s.committer, Metrics: wm, Fence: o.Fence, PendingTTL: o.PendingTTL, Logger: log})
	s.webhook = webhook.NewServer(webhook.ServerOptions{Host: o.WebhookHost, Port: o.WebhookPort, GetCertificate: s.getCert, Path: spec.Path}, h)
	return nil
}

// Index is the server's index, for in-process readers (tests, the audit API).
func (s *Server) Index() *index.Index { return s.ix }

// Synced reports whether the index has caught up with the cluster.
func (s *Server) Synced() bool { return s.tracker.Synced() }

// Run runs every part until ctx is done or one fails, then closes the index. Listeners are
// bound before anything starts, so a port in use fails Run at once.
func (s *Server) Run(ctx context.Context) (err error) {
	defer func() { err = errors.Join(err, s.trail.Close(), s.ix.Close()) }()
	listeners, err := s.listen()
	if err != nil {
		return err
	}
	parent := ctx
	g, ctx := errgroup.WithContext(ctx)
	for _, l := range listeners {
		g.Go(func() error { return serveHTTP(ctx, l.listener, l.handler, l.tls) })
	}
	g.Go(func() error { return s.tracker.Run(ctx) })
	if s.o.Fences != nil {
		g.Go(func() error { return s.o.Fences.Run(ctx) })
	}
	g.Go(func() error { return s.ix.RunGC(ctx, index.DefaultGCInterval) })
	g.Go(func() error { return s.gauges.run(ctx) })
	if s.runCert != nil {
		g.Go(func() error { return s.runCert(ctx) })
	}
	g.Go(func() error { return s.runFenceGauge(ctx, 2*time.Second) })
	if err := s.events.StartRecordingToSinkWithContext(ctx); err != nil {
		return err
	}
	defer s.events.Shutdown()
	if s.webhook != nil {
		g.Go(func() error { return s.committer.Run(ctx) })
		g.Go(func() error { return s.webhook.Start(ctx) })
	}
	if s.o.OnLeader != nil || s.o.LeaderElect {
		g.Go(func() error { return s.runLeader(ctx) })
	}
	err = g.Wait()
	// A stop requested by the caller (SIGTERM) is a clean exit, even when it interrupted a
	// part that was still starting.
	if parent.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

type boundListener struct {
	listener net.Listener
	handler  http.Handler
	// tls, when set, makes the listener serve HTTPS with this configuration.
	tls *tls.Config
}

func (s *Server) listen() ([]boundListener, error) {
	var out []boundListener
	add := func(addr, what string, h http.Handler, secure bool) error {
		if addr == "" || addr == Disabled {
			return nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("failed to listen on %s for %s: %w", addr, what, err)
		}
		b := boundListener{listener: l, handler: h}
		if secure {
			b.tls = &tls.Config{GetCertificate: s.getCert, MinVersion: tls.VersionTLS12}
		}
		out = append(out, b)
		return nil
	}
	// The audit API and the protected metrics need TLS, so they need the webhook's certificate.
	secure := !s.o.MetricsInsecure && s.getCert != nil
	err := add(s.o.MetricsBindAddress, "metrics and the audit API", s.apiHandler, secure)
	if err == nil {
		err = add(s.o.HealthProbeBindAddress, "health probes", s.healthHandler(), false)
	}
	if err != nil {
		for _, l := range out {
			_ = l.listener.Close()
		}
		return nil, err
	}
	return out, nil
}

// serveHTTP serves h on l until ctx is done, then shuts down gracefully.
func serveHTTP(ctx context.Context, l net.Listener, h http.Handler, tlsConfig *tls.Config) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig}
	done := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			done <- srv.ServeTLS(l, "", "")
			return
		}
		done <- srv.Serve(l)
	}()
	select {
	case err := <-done:
		return fmt.Errorf("HTTP server on %s stopped: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	return nil
}
