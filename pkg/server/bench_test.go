package server_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/bench/report"
)

// createRate is the pod create rate of the latency benchmark (issue 4's target: ≤ 2 ms added at
// p99 at 200 creates/s).
const createRate = 200

// BenchmarkWebhookAddedLatency measures what pruneguard's webhook adds to a pod create through
// the real API server at createRate creates per second (issue 4).
//
// Method. The run is 12 pairs of short phases (2.5 s, 500 creates each): in one phase of a
// pair the chart's ValidatingWebhookConfiguration sends the namespace's creates to the
// webhook, in the other its namespace selector excludes the namespace. The order alternates
// ABBA (without-with, with-without, ...), so that a drift in machine load during the run hits
// both sides alike, and adjacent phases of equal state need no switch. Each switch updates
// the configuration and waits until dry-run probe creates show that the API server acts on it
// (see alternation.set). Per pair, the p99 of the with-phase minus the p99 of the
// without-phase is one estimate of the added p99; webhook-added-ms/p99 is the median of the 12
// estimates. On 2 shared cores a single phase's p99 is decided by a few unlucky scheduler
// delays, so one long phase per side gave differences from -3 to +18 ms from run to run; the
// median of paired estimates is not moved by a few unlucky phases. It still measures the
// machine it runs on: when other work leaves the creates too little CPU, the webhook's own CPU
// (the API server's review encoding, TLS and the handler) queues behind it, and that is added
// latency too; loadavg-1m tells such runs apart.
//
// Also reported: the same for p50 (webhook-added-ms/median), the quartiles of the per-pair
// p99 estimates (webhook-added-ms/p99-q1, -q3: their spread), the p50 and p99 of all creates
// of each side pooled (create-ms-with/..., create-ms-without/...), the handler's mean time
// (pruneguard's histogram), and the API server's own timing of the webhook call from its
// /metrics (apiserver_admission_webhook_admission_duration_seconds of this webhook, over the
// with-phases only): webhook-call-ms/p99 is the upper bound of the histogram bucket holding
// the 99th percentile, so its resolution is the API server's buckets (5, 25, 100 ms, ...),
// and webhook-call-mean-ms its mean.
func BenchmarkWebhookAddedLatency(b *testing.B) {
	r := startBenchServer(b)
	alt := newAlternation(b, r, "bench")
	var calls histogram
	res := alt.run(b, 12*b.N, createRate, 5*createRate/2, func(on bool) func() {
		if !on {
			return func() {}
		}
		before := apiserverWebhookHistogram(b, ourWebhooks)
		return func() { calls = calls.plus(apiserverWebhookHistogram(b, ourWebhooks).minus(before)) }
	})
	res.report(b, "webhook-added")
	b.ReportMetric(calls.quantile(0.99)*1e3, "webhook-call-ms/p99")
	b.ReportMetric(calls.mean()*1e3, "webhook-call-mean-ms")
	b.ReportMetric(handlerMeanMicros(b, r), "handler-mean-µs")
	reportLoad(b)
}

// startBenchServer runs a server with serve's default intervals (startServer's one-second
// index gauges would scan the whole index every second, a burst of CPU that serve spends
// every 30 s) and waits until its webhook serves.
func startBenchServer(b *testing.B) *running {
	r := runServer(b, b.TempDir(), 2*time.Minute, nil)
	waitWebhookServing(b)
	return r
}

// reportLoad reports the machine's one-minute load average at the end of the benchmark: on 2
// shared cores, figures taken above ~2 are taken on an overcommitted machine.
func reportLoad(b *testing.B) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return
	}
	var load float64
	if _, err := fmt.Sscan(string(data), &load); err == nil {
		b.ReportMetric(load, "loadavg-1m")
	}
}

// handlerMeanMicros is the mean handler time of every review the server answered.
func handlerMeanMicros(b *testing.B, r *running) float64 {
	return gatherHistogram(b, r.registry, "pruneguard_webhook_latency_seconds").mean() * 1e6
}

// alternation switches the chart's webhook on and off for one namespace while pods are
// created in it.
type alternation struct {
	ns  string
	vwc *admissionregistrationv1.ValidatingWebhookConfiguration
	// hits counts the reviews the switched webhook has answered, to see a switch take effect.
	hits func() float64
	// on is whether the namespace's creates reach the webhook now; seq numbers the probes and
	// phases.
	on  bool
	seq int
}

// newAlternation starts with the webhook on (as TestMain leaves it), creates ns if it is
// missing, and restores the chart's configuration when the benchmark ends. The pods stay: deleting
// twelve thousand pods takes the API server longer than the benchmark (87 s on 2 shared
// cores); the benchmarks after it count the control plane's pods instead of assuming none.
func newAlternation(b *testing.B, r *running, ns string) *alternation {
	ctx := context.Background()
	a := &alternation{ns: ns, on: true, vwc: &admissionregistrationv1.ValidatingWebhookConfiguration{},
		hits: func() float64 { return counter(b, r.registry, "pruneguard_webhook_requests_total") }}
	ensureNamespace(b, ns)
	if err := env.Client.Get(ctx, client.ObjectKey{Name: chartWebhookName}, a.vwc); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.set(b, true) })
	return a
}

func ensureNamespace(b *testing.B, ns string) {
	err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
}

// phaseLabel labels each benchmark pod with its phase.
const phaseLabel = "pruneguard.io/bench-phase"

// pairedRun holds the latencies of each phase, by pair.
type pairedRun struct {
	// rate is the creates per second of every phase.
	rate          int
	with, without [][]time.Duration
	// toggles is the time spent switching the webhook and waiting for the API server.
	toggles time.Duration
}

// run creates perPhase pods at rate per second in each of 2×pairs phases, ABBA ordered (under
// `make bench-quick`, 2×quickPairs(pairs)). around, when set, is called before each phase with
// the phase's state; what it returns is called after the phase's creates have all returned
// (for per-phase diagnostics).
func (a *alternation) run(b *testing.B, pairs, rate, perPhase int, around func(on bool) func()) pairedRun {
	res := pairedRun{rate: rate}
	if report.Quick() {
		pairs = quickPairs(pairs)
	}
	for p := range pairs {
		order := []bool{false, true}
		if p%2 == 1 {
			order = []bool{true, false}
		}
		for _, on := range order {
			start := time.Now()
			a.set(b, on)
			res.toggles += time.Since(start)
			done := func() {}
			if around != nil {
				done = around(on)
			}
			a.seq++
			phase := fmt.Sprintf("p%d", a.seq)
			lat := createPodsAt(b, a.ns, phase, perPhase, rate)
			done()
			if on {
				res.with = append(res.with, lat)
			} else {
				res.without = append(res.without, lat)
			}
		}
	}
	return res
}

// quickPairs is the number of pairs a quick run makes of pairs: a third, at least 4 (two of
// each order), so that the webhook benchmarks take a minute and a half instead of five. Their
// p99 differences, a median over fewer pairs, vary more from run to run.
func quickPairs(pairs int) int { return min(pairs, max(pairs/3, 4)) }

// report reports the paired estimates, named added-ms/..., and the pooled distributions (see
// BenchmarkWebhookAddedLatency).
func (res pairedRun) report(b *testing.B, added string) {
	var d50, d99 []float64
	for i := range res.with {
		d50 = append(d50, quantileMs(res.with[i], 0.5)-quantileMs(res.without[i], 0.5))
		d99 = append(d99, quantileMs(res.with[i], 0.99)-quantileMs(res.without[i], 0.99))
	}
	with, without := slices.Concat(res.with...), slices.Concat(res.without...)
	b.ReportMetric(quantileMs(without, 0.5), "create-ms-without/median")
	b.ReportMetric(quantileMs(without, 0.99), "create-ms-without/p99")
	b.ReportMetric(quantileMs(with, 0.5), "create-ms-with/median")
	b.ReportMetric(quantileMs(with, 0.99), "create-ms-with/p99")
	b.ReportMetric(medianOf(d50), added+"-ms/median")
	b.ReportMetric(medianOf(d99), added+"-ms/p99")
	b.ReportMetric(quantileOf(d99, 0.25), added+"-ms/p99-q1")
	b.ReportMetric(quantileOf(d99, 0.75), added+"-ms/p99-q3")
	b.ReportMetric(float64(res.rate), "creates/s")
	b.ReportMetric(float64(len(d99)), "pairs")
	b.ReportMetric(res.toggles.Seconds()/float64(2*len(d99)), "toggle-s/phase")
	b.ReportMetric(0, "ns/op")
	b.Logf("per-pair p99 with - without (ms): %.2f", d99)
	for i := range res.with {
		b.Logf("pair %2d: p99 with %7.2f without %7.2f; p50 with %6.2f without %6.2f", i,
			quantileMs(res.with[i], 0.99), quantileMs(res.without[i], 0.99), quantileMs(res.with[i], 0.5), quantileMs(res.without[i], 0.5))
	}
}

// medianOf is the median of v (the mean of the middle two for an even count).
func medianOf(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n == 0 {
		return 0
	}
	return (s[(n-1)/2] + s[n/2]) / 2
}

// quantileOf is quantile q of v by linear interpolation between closest ranks.
func quantileOf(v []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}

// set sends the namespace's creates to the webhook (on) or not, unless that is so already,
// and waits until the API server acts on it: dry-run pod creates in the namespace must reach
// the handler (or not) three times in a row. Off adds the namespace to the names the chart's
// namespace selector excludes; on restores the chart's configuration. The configuration
// object stays, so the API server keeps its client and connections to the webhook, as it
// would in a cluster; only the without-phases pay the selector's evaluation (microseconds).
func (a *alternation) set(b *testing.B, on bool) {
	if on == a.on {
		return
	}
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(a.vwc), live); err != nil {
			return err
		}
		live.Webhooks = a.vwc.DeepCopy().Webhooks
		if !on {
			for i := range live.Webhooks {
				sel := live.Webhooks[i].NamespaceSelector
				sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
					Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpNotIn, Values: []string{a.ns}})
			}
		}
		return env.Client.Update(ctx, live)
	})
	if err != nil {
		b.Fatalf("switch the webhook for namespace %s on=%v: %v", a.ns, on, err)
	}
	a.on = on
	stable := 0
	for deadline := time.Now().Add(30 * time.Second); stable < 3; {
		before := a.hits()
		a.seq++
		p := &corev1.Pod{ObjectMeta: meta(a.ns, fmt.Sprintf("probe-%d", a.seq)), Spec: podSpec(registryHost+"/"+a.ns+"/app:v1", "")}
		if err := env.Client.Create(ctx, p, client.DryRunAll); err != nil {
			b.Fatal(err)
		}
		if (a.hits() > before) == on {
			stable++
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			b.Fatalf("the webhook switched on=%v for namespace %s never took effect", on, a.ns)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// createPodsAt creates n pods in ns at rate per second, each create in its own goroutine so
// that a slow one does not delay the next, and returns each create's latency. The pods are
// labelled phaseLabel=prefix.
func createPodsAt(b *testing.B, ns, prefix string, n, rate int) []time.Duration {
	ctx := context.Background()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &corev1.Pod{ObjectMeta: meta(ns, fmt.Sprintf("%s-%d", prefix, i)), Spec: podSpec(registryHost+"/"+ns+"/app:v1", "")}
			p.Labels[phaseLabel] = prefix
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

func quantileMs(d []time.Duration, q float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[int(float64(len(s)-1)*q)].Microseconds()) / 1000
}
