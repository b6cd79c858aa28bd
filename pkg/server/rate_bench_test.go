package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"

	"github.com/pruneguard/pruneguard/bench/report"
)

// BenchmarkWebhookAddedLatencyByRate is BenchmarkWebhookAddedLatency at 50, 100 and 200
// creates/s, with the same method (ABBA-ordered pairs of short phases with and without the
// webhook registered; webhook-added-ms/p99 is the median of the per-pair p99 differences) at
// 10 pairs of 1.5 s per rate, so that the three rates fit in about two minutes. It adds, over
// the with-phases, what explains the difference: the handler's time and the part of it spent
// waiting for the pending record's commit (pruneguard's histograms), the API server's own
// measure of the webhook call (webhook-call-ms/p99: the upper bound of the bucket of its
// admission webhook histogram that holds the 99th percentile; it includes connecting and
// TLS), the GC pauses of this process, which hosts the webhook, the tracker and the client,
// and the TCP connections the API server opened to the webhook. A quick run (make bench-quick)
// leaves out 200 creates/s, BenchmarkWebhookAddedLatency's rate.
func BenchmarkWebhookAddedLatencyByRate(b *testing.B) {
	r := startBenchServer(b)
	alt := newAlternation(b, r, "bench-rate")
	for _, rate := range []int{50, 100, 200} {
		if rate == createRate && report.Quick() {
			continue // BenchmarkWebhookAddedLatency measures this rate; a quick run does not twice
		}
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			var d phaseDiag
			res := alt.run(b, 10*b.N, rate, rate*3/2, func(on bool) func() {
				if !on {
					return func() {}
				}
				before := takeDiag(b, r.registry)
				conns := watchConnections(webhookPort)
				return func() {
					d.conns += conns()
					d.add(takeDiag(b, r.registry).minus(before))
				}
			})
			res.report(b, "webhook-added")
			d.report(b)
			reportLoad(b)
		})
	}
}

// diag is a snapshot of cumulative figures; phaseDiag sums the differences over the phases
// with the webhook registered.
type diag struct {
	handler, wait histogram
	// apiserver is the API server's admission webhook duration histogram of our webhook.
	apiserver histogram
	gcPauses  uint64
	gcPauseNs uint64
	maxPause  uint64
}

type phaseDiag struct {
	diag
	// conns counts the TCP connections to the webhook port seen during the phases.
	conns int
}

func (p *phaseDiag) add(d diag) {
	p.handler = p.handler.plus(d.handler)
	p.wait = p.wait.plus(d.wait)
	p.apiserver = p.apiserver.plus(d.apiserver)
	p.gcPauses += d.gcPauses
	p.gcPauseNs += d.gcPauseNs
	p.maxPause = max(p.maxPause, d.maxPause)
}

func (p *phaseDiag) report(b *testing.B) {
	b.ReportMetric(p.handler.quantile(0.99)*1e3, "handler-ms/p99-bucket")
	b.ReportMetric(p.handler.mean()*1e6, "handler-mean-µs")
	b.ReportMetric(p.wait.mean()*1e6, "record-wait-mean-µs")
	b.ReportMetric(p.wait.quantile(0.99)*1e3, "record-wait-ms/p99-bucket")
	b.ReportMetric(100*(1-p.apiserver.fractionAtMost(0.005)), "apiserver-webhook-calls-%-over-5ms")
	b.ReportMetric(p.apiserver.quantile(0.99)*1e3, "webhook-call-ms/p99")
	b.ReportMetric(p.apiserver.mean()*1e3, "webhook-call-mean-ms")
	b.ReportMetric(float64(p.gcPauses), "gc-cycles")
	b.ReportMetric(float64(p.maxPause)/1e6, "gc-max-pause-ms")
	b.ReportMetric(float64(p.conns), "webhook-connections")
}

// watchConnections samples the established TCP connections to port (from /proc/net/tcp, so
// from any process: the API server's) every 20 ms until the returned function is called,
// which returns how many distinct connections it saw. A handful means the API server keeps
// its connections alive; one per review would mean a TLS handshake per review.
func watchConnections(port int) func() int {
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		seen := map[string]bool{}
		for {
			for _, c := range establishedTo(port) {
				seen[c] = true
			}
			select {
			case <-stop:
				done <- len(seen)
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() int { close(stop); return <-done }
}

// establishedTo lists the remote addresses of established IPv4 connections whose local port
// is port.
func establishedTo(port int) []string {
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return nil
	}
	local := fmt.Sprintf(":%04X", port)
	var out []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st ...; st 01 is ESTABLISHED.
		if len(f) > 3 && strings.HasSuffix(f[1], local) && f[3] == "01" {
			out = append(out, f[2])
		}
	}
	return out
}

func takeDiag(b *testing.B, reg *prometheus.Registry) diag {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	d := diag{
		handler:  gatherHistogram(b, reg, "pruneguard_webhook_latency_seconds"),
		wait:     gatherHistogram(b, reg, "pruneguard_webhook_record_wait_seconds"),
		gcPauses: uint64(ms.NumGC), gcPauseNs: ms.PauseTotalNs,
	}
	// The last 256 pauses, to find the longest of a phase.
	d.maxPause = maxRecentPause(&ms)
	d.apiserver = apiserverWebhookHistogram(b, ourWebhooks)
	return d
}

func (d diag) minus(o diag) diag {
	return diag{
		handler: d.handler.minus(o.handler), wait: d.wait.minus(o.wait), apiserver: d.apiserver.minus(o.apiserver),
		gcPauses: d.gcPauses - o.gcPauses, gcPauseNs: d.gcPauseNs - o.gcPauseNs, maxPause: d.maxPause,
	}
}

func maxRecentPause(ms *runtime.MemStats) uint64 {
	var m uint64
	n := min(int(ms.NumGC), len(ms.PauseNs))
	for i := range n {
		m = max(m, ms.PauseNs[(int(ms.NumGC)-1-i+len(ms.PauseNs))%len(ms.PauseNs)])
	}
	return m
}

// histogram is a cumulative histogram: upper bounds, cumulative counts, sum and count.
type histogram struct {
	bounds []float64
	cum    []float64
	sum    float64
	count  float64
}

func (h histogram) plus(o histogram) histogram {
	if h.bounds == nil {
		return o
	}
	out := histogram{bounds: h.bounds, cum: make([]float64, len(h.cum)), sum: h.sum + o.sum, count: h.count + o.count}
	for i := range h.cum {
		out.cum[i] = h.cum[i] + o.cum[i]
	}
	return out
}

func (h histogram) minus(o histogram) histogram {
	if o.bounds == nil {
		return h
	}
	out := histogram{bounds: h.bounds, cum: make([]float64, len(h.cum)), sum: h.sum - o.sum, count: h.count - o.count}
	for i := range h.cum {
		out.cum[i] = h.cum[i] - o.cum[i]
	}
	return out
}

func (h histogram) mean() float64 {
	if h.count == 0 {
		return 0
	}
	return h.sum / h.count
}

// quantile is the upper bound of the bucket holding quantile q.
func (h histogram) quantile(q float64) float64 {
	if len(h.bounds) == 0 {
		return 0
	}
	for i, c := range h.cum {
		if c >= q*h.count {
			return h.bounds[i]
		}
	}
	return h.bounds[len(h.bounds)-1]
}

func (h histogram) fractionAtMost(bound float64) float64 {
	for i, b := range h.bounds {
		if b == bound && h.count > 0 {
			return h.cum[i] / h.count
		}
	}
	return 0
}

func gatherHistogram(b *testing.B, reg *prometheus.Registry, name string) histogram {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		ph := mf.GetMetric()[0].GetHistogram()
		h := histogram{sum: ph.GetSampleSum(), count: float64(ph.GetSampleCount())}
		for _, bk := range ph.GetBucket() {
			h.bounds = append(h.bounds, bk.GetUpperBound())
			h.cum = append(h.cum, float64(bk.GetCumulativeCount()))
		}
		return h
	}
	return histogram{}
}

// ourWebhooks is what the names of pruneguard's webhooks contain.
const ourWebhooks = "pruneguard"

// apiserverWebhookHistogram reads the API server's admission webhook duration histogram for the
// validating webhooks whose name contains webhook, summed over operations.
func apiserverWebhookHistogram(b *testing.B, webhook string) histogram {
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	const name = "apiserver_admission_webhook_admission_duration_seconds"
	byBound := map[float64]float64{}
	h := histogram{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || !strings.Contains(line, `type="validating"`) || !strings.Contains(labelValue(line, "name"), webhook) {
			continue
		}
		value, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			b.Fatal(err)
		}
		switch {
		case strings.HasPrefix(line, name+"_bucket"):
			le := line[strings.Index(line, `le="`)+4:]
			bound, err := strconv.ParseFloat(le[:strings.IndexByte(le, '"')], 64)
			if err == nil {
				byBound[bound] += value
			}
		case strings.HasPrefix(line, name+"_sum"):
			h.sum += value
		case strings.HasPrefix(line, name+"_count"):
			h.count += value
		}
	}
	for bound := range byBound {
		h.bounds = append(h.bounds, bound)
	}
	sort.Float64s(h.bounds)
	for _, bound := range h.bounds {
		h.cum = append(h.cum, byBound[bound])
	}
	return h
}

// labelValue is the value of label in a Prometheus text-format sample line, or "".
func labelValue(line, label string) string {
	for _, sep := range []string{"{", ","} {
		i := strings.Index(line, sep+label+`="`)
		if i < 0 {
			continue
		}
		v := line[i+len(sep)+len(label)+2:]
		if j := strings.IndexByte(v, '"'); j >= 0 {
			return v[:j]
		}
	}
	return ""
}
