package tracker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/scheme"
	"github.com/pruneguard/pruneguard/pkg/testenv"
	"github.com/pruneguard/pruneguard/tracker"
)

// One control plane (with the OpenShift CRDs) serves every test of the package; each test
// uses its own namespace. TestCrashChild is the child process of the crash test and does not
// start one.
var env *testenv.Env

func TestMain(m *testing.M) {
	if os.Getenv(crashDirEnv) != "" {
		os.Exit(m.Run())
	}
	var stop func() error
	var err error
	env, stop, err = testenv.Start(context.Background(), testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "failed to start the test environment:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "failed to stop the test environment:", err)
	}
	os.Exit(code)
}

const host = "image-registry.openshift-image-registry.svc:5000"

// running is a tracker started by startTracker, with its own index and metrics.
type running struct {
	tr   *tracker.Tracker
	ix   *index.Index
	reg  *prometheus.Registry
	stop func()
}

// startTracker opens the index in dir, runs a tracker on cfg until the test ends (or stop),
// and waits until it is in sync.
func startTracker(t *testing.T, cfg *rest.Config, dir string) *running {
	t.Helper()
	ix, err := index.Open(index.Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := tracker.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tracker.New(tracker.Options{Config: cfg, Scheme: scheme.New(), Index: ix, Metrics: m, Logger: testLogger(t),
		SweepInterval: time.Second, DiscoveryInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	r := &running{tr: tr, ix: ix, reg: reg}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("tracker stopped with %v", err)
		}
		if err := ix.Close(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(r.stop)
	waitFor(t, 2*time.Minute, "the tracker to be in sync", func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("tracker stopped before it was in sync: %v", err)
		default:
		}
		return tr.Synced()
	})
	return r
}

// verify compares the index with a fresh list of the cluster.
func verify(t *testing.T, ix *index.Index) []string {
	t.Helper()
	disc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := tracker.Verify(context.Background(), tracker.VerifyOptions{Client: env.Client, Discovery: disc, Index: ix,
		ScratchDir: filepath.Join(t.TempDir(), "verify"), MaxLines: 50, Logger: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// waitVerified waits until verify finds no difference.
func waitVerified(t *testing.T, ix *index.Index) {
	t.Helper()
	var last []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if last = verify(t, ix); len(last) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("index never matched the cluster; differences:\n%v", last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metric sums the samples of name in reg whose labels include want.
func metric(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
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
	samples:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue samples
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testLogger(t testing.TB) logr.Logger {
	if os.Getenv("PRUNEGUARD_TEST_LOG") == "" {
		return logr.Discard()
	}
	return funcr.New(func(prefix, args string) { t.Log(prefix, args) }, funcr.Options{Verbosity: 1})
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

func pod(ns, name, image string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}
}
