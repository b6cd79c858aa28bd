package report

import (
	"fmt"
	"strings"
)

// writeCarried says which lines an earlier run measured, or why none were taken over.
func writeCarried(p *printer, r *Report) {
	c := r.Carried
	switch {
	case c == nil:
	case c.Skipped != "":
		p.f("Earlier results were not carried over: %s. Only this run's numbers are shown.\n\n", c.Skipped)
	default:
		p.f("This run measured no cluster of size %s: the %d lines at %s marked † are an earlier run's, "+
			"carried over so that the growth tables keep every size (run `go run ./bench/cmd/report -fresh` to leave them out).\n\n",
			strings.Join(c.Sizes, ", "), c.Lines, strings.Join(c.Sizes, ", "))
	}
}

// writeCostGrowth writes the named costs (Costs) at S, M and L with the growth factors, and
// the value measured on a benchmark's own fixture for costs that have no cluster size.
func writeCostGrowth(p *printer, r *Report) {
	p.f("## How each cost grows from S to M to L\n\n")
	var measured, missing []CostGrowth
	for _, g := range r.Costs {
		if g.Measured() {
			measured = append(measured, g)
		} else {
			missing = append(missing, g)
		}
	}
	if len(measured) == 0 {
		p.f("None of the costs was measured.\n\n")
		return
	}
	p.f("S, M and L are the synthetic clusters of 2,000, 20,000 and 200,000 images (pkg/synth, seed 1). " +
		"S→M and M→L are growth factors (10× more images each); the exponent is the slope of log(cost) over log(images) " +
		"(1 is linear, 0 constant). \"Own fixture\" is a cost measured on its benchmark's fixed fixture, whose size its " +
		"target states. — means not measured at that size.\n\n")
	p.f("| Cost | Metric | S | M | L | S→M | M→L | Exponent | Own fixture |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	carried := false
	for _, g := range measured {
		cell := func(s string) string {
			v, ok := g.Values[s]
			if !ok {
				return "—"
			}
			if g.Carried[s] {
				carried = true
				return num(v) + " †"
			}
			return num(v)
		}
		exp := "—"
		if len(g.Values) >= 2 {
			exp = fmt.Sprintf("%.2f", g.Exponent)
		}
		own := "—"
		if g.Unsized != nil {
			own = num(*g.Unsized)
		}
		p.f("| %s | `%s` | %s | %s | %s | %s | %s | %s | %s |\n", g.Cost.Name, g.Cost.Metric, cell("S"), cell("M"), cell("L"),
			growthFactor(g.MOverS), growthFactor(g.LOverM), exp, own)
	}
	if carried {
		p.f("\n† measured by an earlier run (see the benchmark list for when).\n")
	}
	if len(missing) > 0 {
		var names []string
		for _, g := range missing {
			names = append(names, g.Cost.Name+" (`"+g.Cost.Metric+"`)")
		}
		p.f("\nNot measured in this run: %s.\n", strings.Join(names, ", "))
	}
	p.f("\n")
}

func growthFactor(v float64) string {
	if v == 0 {
		return "—"
	}
	return num(v) + "×"
}
