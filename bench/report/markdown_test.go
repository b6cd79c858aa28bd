package report

import (
	"bytes"
	"strings"
	"testing"
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
