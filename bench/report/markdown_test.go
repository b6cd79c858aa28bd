package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestMarkdownShowsEveryVerdict(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, build(t)); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"| 3 | index: pod updates applied per second (Apply, batches of 1,000, 100,000 pods) | `updates/s` | >= 50,000 | — | 61,234 | ✅ met |",
		"| 3 | peak RSS (VmHWM) of a process serving 300,000 lookups at that size | `serve-MiB/rss` | <= 300 | — | 344 | ❌ missed |",
		"✅ met (at S; target is for L)",
		"| 4 | cold start to ready (100,000 pods: synth L has 200,000 images, PRUNEGUARD_START_CLUSTER=issue4 the issue's 50,000; only `make bench`) | `cold-start-s` | <= 120 | — | — | not measured | — |",
		"| plan time: full scan vs live index | L | 25 s | 0.2 s | 125× |",
		"| BenchmarkPlan | `full-plan-s` | 0.21 | 2.3 | 25 | 11× | 10.9× | 1.04 |",
		"- `--- FAIL: BenchmarkFence`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.0041: "0.0041", 38.5: "38.5", 999.7: "1000", 61234: "61,234", -1234567: "-1,234,567", 2.345: "2.35"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestMarkdownSetsTheWebhookBesideTheFloor(t *testing.T) {
	const out = `pkg: github.com/pruneguard/pruneguard/pkg/server
BenchmarkWebhookAddedLatency-2   1   200.0 creates/s   1.25 webhook-added-ms/median   8.84 webhook-added-ms/p99   -3.42 webhook-added-ms/p99-q1   15.2 webhook-added-ms/p99-q3   1.46 webhook-call-mean-ms   2.16 loadavg-1m
BenchmarkWebhookAddedLatencyFloor-2   1   200.0 creates/s   1.20 floor-added-ms/median   10.1 floor-added-ms/p99   4.46 floor-added-ms/p99-q1   22.8 floor-added-ms/p99-q3   2.62 webhook-call-mean-ms   3.65 loadavg-1m
`
	run, err := Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, Build(run, Machine{}, Targets(), Comparisons(), time.Unix(0, 0))); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"## Webhook-added latency against a do-nothing webhook",
		"| pruneguard's webhook | BenchmarkWebhookAddedLatency | 200 | 1.25 ms | 8.84 ms | -3.42 to 15.2 ms | 1.46 ms | 2.16 |",
		"| a do-nothing webhook (floor) | BenchmarkWebhookAddedLatencyFloor | 200 | 1.2 ms | 10.1 ms | 4.46 to 22.8 ms | 2.62 ms | 3.65 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// The floor is no target's measurement.
	for _, res := range Build(run, Machine{}, Targets(), Comparisons(), time.Unix(0, 0)).Results {
		if res.Benchmark == "BenchmarkWebhookAddedLatencyFloor" {
			t.Errorf("the floor was judged against %q", res.Target.Metric)
		}
	}

	// Without a floor, no section.
	buf.Reset()
	if err := WriteMarkdown(&buf, build(t)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "## Webhook-added latency against") {
		t.Error("the section is written without a floor measured")
	}
}

func TestMarkdownSaysAQuickRunIsOne(t *testing.T) {
	run, err := Parse(strings.NewReader("BenchmarkApply/moving-refs-2   1   45000 updates/s\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, quick := range []bool{false, true} {
		r := Build(run, Machine{}, Targets(), Comparisons(), time.Unix(0, 0))
		r.Quick = quick
		var buf bytes.Buffer
		if err := WriteMarkdown(&buf, r); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(buf.String(), "A quick run (`make bench-quick`)"); got != quick {
			t.Errorf("Quick %v: the markdown says it is a quick run: %v\n%s", quick, got, buf.String())
		}
	}
}

func TestMarkdownCountsAndExplainsInconclusiveTargets(t *testing.T) {
	r := &Report{Results: []Result{
		{Target: Target{Issue: 4, What: "p99", Metric: "webhook-added-ms/p99", Op: AtMost, Value: 2}, Benchmark: "BenchmarkNoisy", Value: -15.8, Status: Inconclusive},
		{Target: Target{Issue: 3, What: "rate", Metric: "updates/s", Op: AtLeast, Value: 50_000}, Benchmark: "BenchmarkRate", Value: 60_000, Status: Met},
	}}
	var p printer
	var b strings.Builder
	p.w = &b
	writeTargets(&p, r)
	out := b.String()
	for _, want := range []string{"1 met, 0 missed, 1 inconclusive, 0 not measured.", "❔ inconclusive", "reaches past the target"} {
		if !strings.Contains(out, want) {
			t.Errorf("the targets section lacks %q:\n%s", want, out)
		}
	}
}
