package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// WriteMarkdown writes the report as markdown: the machine, the targets with their verdicts,
// the side-by-side comparisons, the growth factors, every benchmark line, the plots and any
// failure.
func WriteMarkdown(w io.Writer, r *Report) error {
	p := &printer{w: w}
	m := r.Machine
	p.f("# pruneguard benchmarks\n\n")
	p.f("Measured %s on %s, %d cores, %s RAM, %s/%s (kernel %s), %s.\n\n",
		r.Generated.Format("2006-01-02 15:04 MST"), orDash(m.CPU), m.Cores, mib(float64(m.MemoryMiB)),
		m.OS, m.Arch, orDash(m.Kernel), m.Go)
	if r.Quick {
		p.f("A quick run (`make bench-quick`): the webhook-latency benchmarks ran a third of their pairs (see each one's pairs), " +
			"so their p99 figures vary more, and …ByRate left out 200 creates/s, which BenchmarkWebhookAddedLatency measures; the do-nothing webhook floor and the index load at L did not run. `make bench` runs everything.\n\n")
	}
	writeCarried(p, r)
	writeTargets(p, r)
	writeComparisons(p, r)
	writeWebhookLatency(p, r)
	writeCostGrowth(p, r)
	writeGrowth(p, r)
	writeBenchmarks(p, r)
	if len(r.Plots) > 0 {
		p.f("## Plots\n\n")
		for _, f := range r.Plots {
			p.f("![%s](%s)\n\n", strings.TrimSuffix(f, ".png"), f)
		}
	}
	if len(r.Run.Failures) > 0 {
		p.f("## Failures\n\n")
		for _, f := range r.Run.Failures {
			p.f("- `%s`\n", f)
		}
		p.f("\n")
	}
	return p.err
}

func writeTargets(p *printer, r *Report) {
	met, missed, unsure, none := 0, 0, 0, 0
	for _, res := range r.Results {
		switch res.Status {
		case Met:
			met++
		case Missed:
			missed++
		case Inconclusive:
			unsure++
		default:
			none++
		}
	}
	p.f("## Targets\n\n%d met, %d missed, %d inconclusive, %d not measured.\n\n", met, missed, unsure, none)
	if unsure > 0 {
		p.f("Inconclusive: the value meets the target, but the benchmark's own spread of it (quartiles over repeated pairs) reaches past the target.\n\n")
	}
	p.f("| Issue | What | Metric | Target | Size | Measured | Status | Benchmark |\n")
	p.f("|---:|---|---|---:|:---:|---:|---|---|\n")
	for _, res := range r.Results {
		t := res.Target
		status := string(res.Status)
		switch res.Status {
		case Met:
			status = "✅ met"
		case Missed:
			status = "❌ missed"
		case Inconclusive:
			status = "❔ inconclusive"
		}
		if res.OtherSize && res.Status != NotMeasured {
			status += fmt.Sprintf(" (at %s; target is for %s)", orDash(res.Size), t.Size)
		}
		if !res.CarriedFrom.IsZero() {
			status += " † " + carriedNote(res.CarriedFrom)
		}
		measured := "—"
		if res.Status != NotMeasured {
			measured = num(res.Value)
		}
		p.f("| %d | %s | `%s` | %s %s | %s | %s | %s | %s |\n", t.Issue, t.What, t.Metric, t.Op, num(t.Value),
			orDash(t.Size), measured, status, orDash(res.Benchmark))
	}
	p.f("\n")
}

func writeComparisons(p *printer, r *Report) {
	p.f("## Full scan versus pruneguard\n\n")
	if len(r.Comparisons) == 0 {
		p.f("No comparison measured: the run reported none of the paired metrics (%s).\n\n", pairedMetrics())
		return
	}
	p.f("| Comparison | Size | Full scan | pruneguard | Ratio |\n|---|:---:|---:|---:|---:|\n")
	unsized := false
	for _, c := range r.Comparisons {
		mark := ""
		if c.CandidateUnsized {
			mark, unsized = " ¹", true
		}
		p.f("| %s | %s | %s %s | %s %s%s | %s× |\n", c.Comparison.Name, orDash(c.Size),
			num(c.Baseline), c.Comparison.Unit, num(c.Candidate), c.Comparison.Unit, mark, num(c.Ratio))
	}
	if unsized {
		p.f("\n¹ measured on a small fixed cluster, not at the row's size: its growth with the cluster is not shown.\n")
	}
	p.f("\n")
}

func pairedMetrics() string {
	var names []string
	for _, c := range Comparisons() {
		names = append(names, "`"+c.Baseline+"` / `"+c.Candidate+"`")
	}
	return strings.Join(names, ", ")
}

// webhookLatencies are the paired-phase figures of the admission latency benchmarks: what
// pruneguard's webhook adds to a create, and what a webhook that does nothing adds.
var webhookLatencies = []struct{ prefix, who string }{
	{"webhook-added", "pruneguard's webhook"},
	{"floor-added", "a do-nothing webhook (floor)"},
}

// writeWebhookLatency shows, side by side, what pruneguard's webhook and a webhook that does
// nothing add to a create through the API server, when the run measured the floor: the part
// no handler can remove is the API server's cost of calling a webhook on the machine.
func writeWebhookLatency(p *printer, r *Report) {
	floor := false
	for _, b := range r.Run.Benchmarks {
		if _, ok := b.Value("floor-added-ms/p99"); ok {
			floor = true
		}
	}
	if !floor {
		return
	}
	p.f("## Webhook-added latency against a do-nothing webhook\n\n")
	p.f("Each row is a run of ABBA-ordered pairs of phases with the webhook on and off for a namespace; " +
		"added p50 and p99 are the medians over the pairs of the with-minus-without differences, q1–q3 the spread of the p99 ones. " +
		"The floor is a webhook that answers allowed without reading the review, registered with the chart's rules: " +
		"what it adds is the API server's cost of calling any webhook on this machine.\n\n")
	p.f("| Webhook | Benchmark | creates/s | added p50 | added p99 | p99 q1 to q3 | API server's call, mean | load |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, b := range r.Run.Benchmarks {
		for _, w := range webhookLatencies {
			p99, ok := b.Value(w.prefix + "-ms/p99")
			if !ok {
				continue
			}
			cell := func(unit, suffix string) string {
				if v, ok := b.Value(unit); ok {
					return num(v) + suffix
				}
				return "—"
			}
			p.f("| %s | %s | %s | %s | %s ms | %s to %s | %s | %s |\n", w.who, b.Name, cell("creates/s", ""),
				cell(w.prefix+"-ms/median", " ms"), num(p99), cell(w.prefix+"-ms/p99-q1", ""), cell(w.prefix+"-ms/p99-q3", " ms"),
				cell("webhook-call-mean-ms", " ms"), cell("loadavg-1m", ""))
		}
	}
	p.f("\n")
}

func writeGrowth(p *printer, r *Report) {
	p.f("## Every metric measured at several sizes\n\n")
	if len(r.Growth) == 0 {
		p.f("No cost was measured at more than one size.\n\n")
		return
	}
	p.f("Exponent: slope of log(cost) over log(images); 1 is linear, 0 constant.\n\n")
	p.f("| Benchmark | Metric | S | M | L | M/S | L/M | Exponent |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, g := range r.Growth {
		cell := func(s string) string {
			if v, ok := g.Values[s]; ok {
				return num(v)
			}
			return "—"
		}
		factor := func(v float64) string {
			if v == 0 {
				return "—"
			}
			return num(v) + "×"
		}
		p.f("| %s | `%s` | %s | %s | %s | %s | %s | %.2f |\n", g.Benchmark, g.Metric, cell("S"), cell("M"), cell("L"),
			factor(g.MOverS), factor(g.LOverM), g.Exponent)
	}
	p.f("\n")
}

func writeBenchmarks(p *printer, r *Report) {
	p.f("## Every benchmark\n\n")
	if len(r.Run.Benchmarks) == 0 {
		p.f("The input held no benchmark line.\n\n")
		return
	}
	p.f("| Package | Benchmark | Iterations | Figures |\n|---|---|---:|---|\n")
	for _, b := range r.Run.Benchmarks {
		var figs []string
		for _, m := range b.Metrics {
			figs = append(figs, num(m.Value)+" "+m.Unit)
		}
		name := b.Name
		if !b.CarriedFrom.IsZero() {
			name += " † " + carriedNote(b.CarriedFrom)
		}
		p.f("| %s | %s | %d | %s |\n", orDash(b.Package), name, b.Iterations, strings.Join(figs, ", "))
	}
	p.f("\n")
}

// printer remembers the first write error so the table code can stay linear.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// num prints a value with three significant digits, and whole numbers of 1,000 and more
// with thousands separators.
func num(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	if math.Abs(v) >= 1000 {
		s := strconv.FormatInt(int64(math.Round(v)), 10)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		if neg {
			return "-" + b.String()
		}
		return b.String()
	}
	if s := strconv.FormatFloat(v, 'g', 3, 64); !strings.Contains(s, "e+") {
		return s
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func mib(v float64) string {
	if v >= 1024 {
		return fmt.Sprintf("%.1f GiB", v/1024)
	}
	return fmt.Sprintf("%.0f MiB", v)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
