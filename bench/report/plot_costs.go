package report

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
)

// Files of the cost-versus-size plots, by kind of cost.
var costSizePlots = map[Kind]string{KindTime: "growth-time.png", KindMemory: "growth-memory.png"}

// costSizePlot draws every named cost of kind against the number of images, in the kind's
// unit (seconds or MiB), log-log: a cost that grows linearly is a line of slope 1, a constant
// one is flat, so full scan and index can be read off side by side. A cost measured at one
// size only is one point. Nil when no cost of kind was measured at any size.
func costSizePlot(r *Report, kind Kind) (*plot.Plot, error) {
	var series []any
	for _, g := range r.Costs {
		if g.Cost.Kind != kind {
			continue
		}
		var xys plotter.XYs
		for _, s := range []string{"S", "M", "L"} {
			if v, ok := g.scaled(s); ok && v > 0 {
				xys = append(xys, plotter.XY{X: SizeImages[s], Y: v})
			}
		}
		if len(xys) > 0 {
			series = append(series, g.Cost.Name, xys)
		}
	}
	if len(series) == 0 {
		return nil, nil
	}
	title, unit := "Time of each cost against the cluster size", "seconds"
	if kind == KindMemory {
		title, unit = "Memory and disk of each cost against the cluster size", "MiB"
	}
	p := logLog(title, "images in the cluster", unit)
	if err := plotutil.AddLinePoints(p, series...); err != nil {
		return nil, fmt.Errorf("failed to plot %s costs: %w", kind, err)
	}
	return p, nil
}
