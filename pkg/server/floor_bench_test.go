package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/pruneguard/pruneguard/bench/report"
	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
)

// floorWebhookName names the floor webhook; it must not contain ourWebhooks.
const floorWebhookName = "floor.bench.example.com"

// BenchmarkWebhookAddedLatencyFloor is BenchmarkWebhookAddedLatency (same rate, pairs, phases
// and statistics) for the least a validating webhook can be: a TLS server in this process that
// reads each review's body, takes the uid and answers allowed, registered by a copy of the
// chart's configuration (same rules, selectors, match conditions, timeout) limited to the
// benchmark's namespace, which pruneguard's own webhook is switched off for. pruneguard keeps
// running (its tracker still sees the pods), so the two benchmarks differ only in which
// webhook answers. What this one measures is the API server's cost of calling any webhook on
// this machine: its floor-added-ms/p99 is the part of BenchmarkWebhookAddedLatency's that no
// handler can remove, and the difference between the two is pruneguard's own. Its figures are
// named floor-added-ms/... so that no target judges them.
//
// It runs once per protocol the webhook offers: HTTP/1.1 only, as pruneguard's webhook serves
// by default, and HTTP/2 as well, which the API server then uses (one connection, requests
// multiplexed, no new TLS handshake when the requests in flight outnumber the idle
// connections).
func BenchmarkWebhookAddedLatencyFloor(b *testing.B) {
	if report.Quick() {
		b.Skip("the floor backs no target and takes two minutes: `make bench` runs it, `make bench-quick` does not")
	}
	r := startBenchServer(b)
	for _, h2 := range []bool{false, true} {
		name := "proto=http1.1"
		if h2 {
			name = "proto=h2"
		}
		b.Run(name, func(b *testing.B) {
			ns := "bench-floor-h1"
			if h2 {
				ns = "bench-floor-h2"
			}
			ours := newAlternation(b, r, ns)
			ours.set(b, false)
			floor := startFloorWebhook(b, h2)
			alt := floor.register(b, ours.vwc, ns)
			var calls histogram
			conns := 0
			res := alt.run(b, 12*b.N, createRate, 5*createRate/2, func(on bool) func() {
				if !on {
					return func() {}
				}
				before := apiserverWebhookHistogram(b, floorWebhookName)
				seen := watchConnections(floor.port)
				return func() {
					conns += seen()
					calls = calls.plus(apiserverWebhookHistogram(b, floorWebhookName).minus(before))
				}
			})
			res.report(b, "floor-added")
			b.ReportMetric(calls.quantile(0.99)*1e3, "webhook-call-ms/p99")
			b.ReportMetric(calls.mean()*1e3, "webhook-call-mean-ms")
			b.ReportMetric(float64(conns), "webhook-connections")
			if floor.hits.Load() == 0 {
				b.Fatal("the floor webhook answered no review")
			}
			reportLoad(b)
		})
	}
}

// floorWebhook is a validating webhook that does nothing but answer allowed.
type floorWebhook struct {
	url  string
	port int
	hits atomic.Int64
}

// startFloorWebhook serves the floor webhook on a free loopback port with envtest's serving
// certificate (the one pruneguard's webhook uses) until the benchmark ends: HTTP/1.1 only, like
// pruneguard's by default, or HTTP/2 as well when h2.
func startFloorWebhook(b *testing.B, h2 bool) *floorWebhook {
	wio := env.Control.WebhookInstallOptions
	cert, err := tls.LoadX509KeyPair(filepath.Join(wio.LocalServingCertDir, "tls.crt"), filepath.Join(wio.LocalServingCertDir, "tls.key"))
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	f := &floorWebhook{url: "https://" + l.Addr().String(), port: l.Addr().(*net.TCPAddr).Port}
	srv := &http.Server{
		Handler:   http.HandlerFunc(f.serve),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}
	if !h2 {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(l, "", "") }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.Error(err)
		}
	})
	return f
}

// uidField is how the review's request uid starts; it is the first "uid" of a review the API
// server encodes (request.uid precedes the object).
var uidField = []byte(`"uid":"`)

func (f *floorWebhook) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	i := bytes.Index(body, uidField)
	if i < 0 {
		http.Error(w, "no uid in the review", http.StatusBadRequest)
		return
	}
	uid := body[i+len(uidField):]
	uid = uid[:bytes.IndexByte(uid, '"')]
	f.hits.Add(1)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":%q,"allowed":true}}`, uid)
}

// register creates a copy of chartVWC, the chart's webhook configuration, that calls the floor
// webhook for the creates of ns only, and returns the alternation that switches it; the
// configuration is deleted when the benchmark ends.
func (f *floorWebhook) register(b *testing.B, chartVWC *admissionregistrationv1.ValidatingWebhookConfiguration, ns string) *alternation {
	ctx := context.Background()
	vwc := chart.PointAt(chartVWC, f.url, env.Control.WebhookInstallOptions.LocalServingCAData)
	vwc.ObjectMeta = metav1.ObjectMeta{Name: "bench-floor-" + ns}
	for i := range vwc.Webhooks {
		w := &vwc.Webhooks[i]
		w.Name = fmt.Sprintf("%d.%s", i, floorWebhookName)
		// A floor webhook that fails must fail the benchmark's creates, not be ignored.
		w.FailurePolicy = ptr.To(admissionregistrationv1.Fail)
		w.NamespaceSelector.MatchExpressions = append(w.NamespaceSelector.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpIn, Values: []string{ns}})
	}
	if err := env.Client.Create(ctx, vwc); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := env.Client.Delete(context.Background(), vwc); err != nil {
			b.Error(err)
		}
	})
	a := &alternation{ns: ns, on: true, vwc: vwc.DeepCopy(), hits: func() float64 { return float64(f.hits.Load()) }}
	// Start from off, as every pair's first phase is, with the API server seen to act on it.
	a.set(b, false)
	return a
}
