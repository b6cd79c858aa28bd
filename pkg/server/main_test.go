package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pkg/testenv"
	"github.com/pruneguard/pruneguard/tracker"
)

// One control plane serves every test of the package (they run one after another and each
// uses its own namespaces). The webhook configuration registered is the chart's, rendered by
// helm, with only its clientConfig pointed at the in-process server (chart.PointAt).
var env *testenv.Env

// webhookHost and webhookPort are where envtest's serving certificate is valid and where the
// registered configuration sends reviews.
var (
	webhookHost string
	webhookPort int
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx := context.Background()
	var stop func() error
	var err error
	env, stop, err = testenv.Start(ctx, testenv.Options{Webhooks: &envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "failed to start the test environment:", err)
		return 1
	}
	defer func() {
		if err := stop(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the test environment:", err)
		}
	}()
	wio := env.Control.WebhookInstallOptions
	webhookHost, webhookPort = wio.LocalServingHost, wio.LocalServingPort
	if err := registerChartWebhook(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// chartWebhookName is the name of the registered configuration (helm release "pruneguard").
var chartWebhookName string

// registerChartWebhook renders the chart's ValidatingWebhookConfiguration and creates it,
// pointed at the test server.
func registerChartWebhook(ctx context.Context) error {
	helm, err := testenv.Tool("helm")
	if err != nil {
		return err
	}
	vwc, err := chart.WebhookConfiguration(ctx, chart.Options{Helm: helm})
	if err != nil {
		return fmt.Errorf("failed to render the chart's webhook configuration: %w", err)
	}
	wio := env.Control.WebhookInstallOptions
	registered := chart.PointAt(vwc, fmt.Sprintf("https://%s", net.JoinHostPort(webhookHost, fmt.Sprint(webhookPort))), wio.LocalServingCAData)
	chartWebhookName = registered.Name
	if err := env.Client.Create(ctx, registered); err != nil {
		return fmt.Errorf("failed to register the chart's webhook configuration: %w", err)
	}
	return nil
}

// running is a server started by startServer.
type running struct {
	srv      *server.Server
	dataDir  string
	registry *prometheus.Registry
	stop     func()
	// opened is what the index found in the data directory when the server opened it.
	opened index.Status
}

// startServer runs a server with its index in dataDir and waits until it is in sync.
func startServer(t testing.TB, dataDir string) *running {
	t.Helper()
	r := runServer(t, dataDir, 2*time.Minute, func(o *server.Options) {
		o.SweepInterval, o.DiscoveryInterval, o.StatsInterval = time.Second, 2*time.Second, time.Second
	})
	waitWebhookServing(t)
	return r
}

// runServer builds a server on the shared control plane, with the webhook on the registered
// port and its index in dataDir, runs it until the test ends, and waits up to timeout until it
// is in sync. tune, when set, adjusts the options first.
func runServer(t testing.TB, dataDir string, timeout time.Duration, tune func(*server.Options)) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	o := server.Options{
		Config: env.Config, DataDir: dataDir,
		WebhookHost: webhookHost, WebhookPort: webhookPort, CertDir: env.Control.WebhookInstallOptions.LocalServingCertDir,
		MetricsBindAddress: server.Disabled, HealthProbeBindAddress: server.Disabled,
		Registry: reg, Logger: testLogger(t),
	}
	if tune != nil {
		tune(&o)
	}
	srv, err := server.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	r := &running{srv: srv, registry: reg, dataDir: dataDir, opened: srv.Index().Status()}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	}
	t.Cleanup(r.stop)
	waitFor(t, timeout, "the index to be in sync", func() (bool, error) {
		select {
		case err := <-done:
			done <- err
			return false, fmt.Errorf("server stopped before it was in sync: %w", err)
		default:
		}
		return srv.Synced(), nil
	})
	return r
}

// waitWebhookServing waits until the webhook accepts TLS connections.
func waitWebhookServing(t testing.TB) {
	t.Helper()
	addr := net.JoinHostPort(webhookHost, fmt.Sprint(webhookPort))
	waitFor(t, 30*time.Second, "the webhook to listen", func() (bool, error) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(env.Control.WebhookInstallOptions.LocalServingCAData)
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{RootCAs: pool})
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	})
}

func testLogger(t testing.TB) logr.Logger {
	if os.Getenv("PRUNEGUARD_TEST_LOG") == "" {
		return logr.Discard()
	}
	return funcr.New(func(prefix, args string) { t.Log(prefix, args) }, funcr.Options{Verbosity: 1})
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verify compares the server's live index with a fresh list from the API server.
func verify(t *testing.T, r *running) []string {
	t.Helper()
	disc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := tracker.Verify(context.Background(), tracker.VerifyOptions{
		Client: env.Client, Discovery: disc, Index: r.srv.Index(),
		ScratchDir: filepath.Join(t.TempDir(), "verify"), MaxLines: 50,
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// waitVerified waits until verify finds no difference, reporting the last ones on timeout.
func waitVerified(t *testing.T, r *running) {
	t.Helper()
	var last []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if last = verify(t, r); len(last) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("index never matched the cluster; differences:\n%s", joinLines(last))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}

// counter reads a counter (summed over its labels) from reg.
func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += metricValue(m)
		}
	}
	return sum
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

func createNamespace(t testing.TB, name string) {
	t.Helper()
	err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// mustCreate creates obj, failing the test on error.
func mustCreate(t testing.TB, obj client.Object, opts ...client.CreateOption) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj, opts...); err != nil {
		t.Fatalf("create %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
