package server_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// createRate is the pod create rate of the latency benchmark (issue 4's target: ≤ 2 ms added at
// p99 at 200 creates/s).
const createRate = 200

// BenchmarkWebhookAddedLatency creates pods through the real API server at createRate per
// second, alternately without and with pruneguard's webhook configuration registered (same
// run, same server, phases interleaved so that drift in machine load hits both), and reports
// the p50 and p99 create latency of each and what the webhook adds.
func BenchmarkWebhookAddedLatency(b *testing.B) {
	r := startServer(b, b.TempDir())
	ctx := context.Background()
	createNamespace(b, "bench")
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: chartWebhookName}, vwc); err != nil {
		b.Fatal(err)
	}
	perPhase := 300 * b.N
	var with, without []time.Duration
	seq := 0
	for round := range 2 {
		for _, registered := range []bool{false, true} {
			setRegistered(b, r, vwc, registered, &seq)
			lat := createPods(b, fmt.Sprintf("r%d-%v", round, registered), perPhase)
			if registered {
				with = append(with, lat...)
			} else {
				without = append(without, lat...)
			}
		}
	}
	p := func(d []time.Duration, q float64) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[int(float64(len(d)-1)*q)].Microseconds()) / 1000
	}
	// What the webhook adds is the difference of the two distributions at each quantile (not
	// a per-request figure: the two phases create different pods).
	b.ReportMetric(p(without, 0.5), "create-ms-without/median")
	b.ReportMetric(p(without, 0.99), "create-ms-without/p99")
	b.ReportMetric(p(with, 0.5), "create-ms-with/median")
	b.ReportMetric(p(with, 0.99), "create-ms-with/p99")
	b.ReportMetric(p(with, 0.5)-p(without, 0.5), "webhook-added-ms/median")
	b.ReportMetric(p(with, 0.99)-p(without, 0.99), "webhook-added-ms/p99")
	b.ReportMetric(handlerMeanMicros(b, r), "handler-mean-µs")
	b.ReportMetric(0, "ns/op")
}

// handlerMeanMicros is the mean handler time of every review the server answered.
func handlerMeanMicros(b *testing.B, r *running) float64 {
	mfs, err := r.registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "pruneguard_webhook_latency_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleSum() / float64(h.GetSampleCount()) * 1e6
		}
	}
	return 0
}

// setRegistered deletes or re-creates the chart's webhook configuration and waits until pod
// creates do (or do not) reach the handler.
func setRegistered(b *testing.B, r *running, vwc *admissionregistrationv1.ValidatingWebhookConfiguration, on bool, seq *int) {
	ctx := context.Background()
	if on {
		fresh := vwc.DeepCopy()
		fresh.ResourceVersion, fresh.UID = "", ""
		if err := env.Client.Create(ctx, fresh); err != nil {
			b.Fatal(err)
		}
	} else if err := env.Client.Delete(ctx, vwc); err != nil {
		b.Fatal(err)
	}
	// The API server applies configuration changes asynchronously; probe with dry-run creates
	// until the handler's request count moves (or stays put) three times in a row.
	stable := 0
	for deadline := time.Now().Add(30 * time.Second); stable < 3; {
		before := counter(b, r.registry, "pruneguard_webhook_requests_total")
		*seq++
		p := &corev1.Pod{ObjectMeta: meta("bench", fmt.Sprintf("probe-%d", *seq)), Spec: podSpec(registryHost+"/bench/app:v1", "")}
		if err := env.Client.Create(ctx, p, client.DryRunAll); err != nil {
			b.Fatal(err)
		}
		if (counter(b, r.registry, "pruneguard_webhook_requests_total") > before) == on {
			stable++
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			b.Fatalf("webhook registered=%v never took effect", on)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createPods creates n pods at createRate per second and returns each create's latency.
func createPods(b *testing.B, prefix string, n int) []time.Duration {
	ctx := context.Background()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / createRate)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &corev1.Pod{ObjectMeta: meta("bench", fmt.Sprintf("%s-%d", prefix, i)), Spec: podSpec(registryHost+"/bench/app:v1", "")}
			start := time.Now()
			if err := env.Client.Create(ctx, p); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(start)
		}()
	}
	wg.Wait()
	return lat
}
