package report

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot dimensions: wide enough that a legend of several series leaves the curves readable.
const (
	plotWidth  = 22 * vg.Centimeter
	plotHeight = 14 * vg.Centimeter
)

// WritePlots writes the PNG plots of r into dir and returns their file names:
// cost-SLUG.png per comparison (the full-scan side and pruneguard's against the cluster
// size, log-log), growth-time.png and growth-memory.png (every named cost against the
// cluster size, in seconds and MiB), growth.png (every metric measured at several sizes,
// relative to its smallest size, log-log) and latency.png (every latency distribution reported with
// Latencies). A plot with no data is not written, and a file of that name left by an
// earlier run is removed.
func WritePlots(dir string, r *Report) ([]string, error) {
	plots := map[string]*plot.Plot{}
	for _, c := range Comparisons() {
		p, err := costPlot(r, c)
		if err != nil {
			return nil, err
		}
		plots["cost-"+c.Slug+".png"] = p
	}
	var err error
	if plots["growth.png"], err = growthPlot(r); err != nil {
		return nil, err
	}
	for kind, name := range costSizePlots {
		if plots[name], err = costSizePlot(r, kind); err != nil {
			return nil, err
		}
	}
	if plots["latency.png"], err = latencyPlot(r); err != nil {
		return nil, err
	}
	var names []string
	for name, p := range plots {
		if p == nil {
			// A plot of an earlier run must not pass for this run's.
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
				return nil, fmt.Errorf("failed to remove the stale plot %s: %w", name, err)
			}
			continue
		}
		if err := savePNG(p, filepath.Join(dir, name)); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// savePNG writes p as a PNG with its legend in a column to the right of the axes, so that no
// legend covers the data however many series it names: the axes keep plotWidth×plotHeight and
// the image grows by the legend's width (and height, for a legend taller than the axes).
func savePNG(p *plot.Plot, path string) error {
	legend := p.Legend
	p.Legend = plot.NewLegend() // p.Draw draws no legend
	defer func() { p.Legend = legend }()
	legend.Top, legend.Left = true, true
	// A legend's extent depends only on its entries and style, not on the canvas measuring it.
	size := legend.Rectangle(draw.New(vgimg.New(plotWidth, plotHeight))).Size()
	width, height := plotWidth, plotHeight
	if size.X > 0 {
		width += legendGap + size.X + legendGap
		height = max(height, size.Y+2*legendGap)
	}
	c, err := draw.NewFormattedCanvas(width, height, "png")
	if err != nil {
		return fmt.Errorf("failed to render plot %s: %w", path, err)
	}
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, 0, plotWidth-width, height-plotHeight, 0))
	if size.X > 0 {
		legend.Draw(draw.Crop(dc, plotWidth+legendGap, -legendGap, 0, -legendGap))
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("failed to write plot: %w", err)
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("failed to write plot %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("failed to write plot %s: %w", path, err)
	}
	return nil
}

// legendGap separates the legend from the axes and the image's edges.
const legendGap = vg.Length(14)

func logLog(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	return p
}

// costPlot draws one comparison's two sides against the number of images, or returns nil
// when it was measured at no size (a result without a size has no place on the x axis).
func costPlot(r *Report, c Comparison) (*plot.Plot, error) {
	var base, cand plotter.XYs
	for _, res := range r.Comparisons {
		x, ok := SizeImages[res.Size]
		if res.Comparison.Name != c.Name || !ok || res.Baseline <= 0 || res.Candidate <= 0 {
			continue
		}
		base = append(base, plotter.XY{X: x, Y: res.Baseline})
		cand = append(cand, plotter.XY{X: x, Y: res.Candidate})
	}
	if len(base) == 0 {
		return nil, nil
	}
	p := logLog(c.Name, "images in the cluster", c.Unit)
	if err := plotutil.AddLinePoints(p, "full scan (oc's way)", base, "pruneguard", cand); err != nil {
		return nil, fmt.Errorf("failed to plot %s: %w", c.Name, err)
	}
	return p, nil
}

// growthPlot draws every cost measured at two sizes or more relative to its value at the
// smallest size, with the line of linear growth for reference.
func growthPlot(r *Report) (*plot.Plot, error) {
	var series []any
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, g := range r.Growth {
		var xys plotter.XYs
		first := 0.0
		for _, s := range []string{"S", "M", "L"} {
			v, ok := g.Values[s]
			if !ok || v <= 0 {
				continue
			}
			if first == 0 {
				first = v
			}
			xys = append(xys, plotter.XY{X: SizeImages[s], Y: v / first})
			lo, hi = math.Min(lo, SizeImages[s]), math.Max(hi, SizeImages[s])
		}
		if len(xys) >= 2 {
			series = append(series, g.Benchmark+" "+g.Metric, xys)
		}
	}
	if len(series) == 0 {
		return nil, nil
	}
	p := logLog("Growth of each cost with the cluster size", "images in the cluster", "cost relative to the smallest size")
	if err := plotutil.AddLinePoints(p, series...); err != nil {
		return nil, fmt.Errorf("failed to plot growth: %w", err)
	}
	linear, err := plotter.NewLine(plotter.XYs{{X: lo, Y: 1}, {X: hi, Y: hi / lo}})
	if err != nil {
		return nil, fmt.Errorf("failed to plot growth: %w", err)
	}
	linear.Dashes = []vg.Length{vg.Points(2), vg.Points(4)}
	p.Add(linear)
	p.Legend.Add("linear growth", linear)
	return p, nil
}

// latencyPlot draws every latency distribution: x is the quantile on a "nines" scale
// (median, p90, p99, p99.9, max), y the latency.
func latencyPlot(r *Report) (*plot.Plot, error) {
	type key struct{ bench, name string }
	dists := map[key]plotter.XYs{}
	var order []key
	for _, b := range r.Run.Benchmarks {
		for _, m := range b.Metrics {
			name, suffix, ok := cutLast(m.Unit, "/")
			q, isQ := quantileOf(suffix)
			if !ok || !isQ || m.Value <= 0 {
				continue
			}
			k := key{b.Name, name}
			if dists[k] == nil {
				order = append(order, k)
			}
			dists[k] = append(dists[k], plotter.XY{X: nines(q), Y: m.Value})
		}
	}
	var series []any
	for _, k := range order {
		xys := dists[k]
		if len(xys) < 2 {
			continue
		}
		sort.Slice(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
		series = append(series, k.bench+" "+k.name, xys)
	}
	if len(series) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = "Latency distributions"
	p.X.Label.Text = "quantile"
	p.Y.Label.Text = "latency (unit in legend)"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.X.Tick.Marker = plot.ConstantTicks{{Value: nines(0.5), Label: "median"}, {Value: nines(0.9), Label: "p90"},
		{Value: nines(0.99), Label: "p99"}, {Value: nines(0.999), Label: "p99.9"}, {Value: nines(1), Label: "max"}}
	p.Add(plotter.NewGrid())
	if err := plotutil.AddLinePoints(p, series...); err != nil {
		return nil, fmt.Errorf("failed to plot latencies: %w", err)
	}
	return p, nil
}

// nines maps a quantile to -log10(1-q), so that p90, p99 and p99.9 are evenly spaced; the
// maximum sits one step past p99.9.
func nines(q float64) float64 {
	if q >= 1 {
		return 4
	}
	return -math.Log10(1 - q)
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
