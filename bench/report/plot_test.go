package report

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg/vgimg"
)

// TestWriteFilesRendersValidPNGs writes the whole report to a temporary directory and decodes
// every plot back as a PNG of the intended size.
func TestWriteFilesRendersValidPNGs(t *testing.T) {
	r := build(t)
	dir := t.TempDir()
	if err := WriteFiles(dir, r); err != nil {
		t.Fatal(err)
	}
	want := []string{"cost-decision.png", "cost-plan-rss.png", "cost-plan-time.png", "cost-time-to-prune.png",
		"growth-memory.png", "growth-time.png", "growth.png", "latency.png"}
	if !slices.Equal(r.Plots, want) {
		t.Fatalf("plots %v, want %v", r.Plots, want)
	}
	for _, name := range want {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s is not a PNG: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 350 {
			t.Errorf("%s is %dx%d pixels, too small to read", name, b.Dx(), b.Dy())
		}
		// Every plot has a legend, drawn beside the axes: the image is wider than they are.
		if axes := int(plotWidth.Dots(vgimg.DefaultDPI)); img.Bounds().Dx() <= axes {
			t.Errorf("%s is %d pixels wide, no wider than its axes (%d): where is the legend?", name, img.Bounds().Dx(), axes)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range want {
		if !strings.Contains(string(md), "]("+name+")") {
			t.Errorf("%s does not link %s", MarkdownFile, name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, JSONFile)); err != nil {
		t.Error(err)
	}
}

func TestNoDataWritesNoPlot(t *testing.T) {
	r := Build(&Run{Benchmarks: []Benchmark{{Name: "BenchmarkX", Iterations: 1, Metrics: []Metric{{Value: 3, Unit: "ns/op"}}}}},
		Machine{}, Targets(), Comparisons(), build(t).Generated)
	names, err := WritePlots(t.TempDir(), r)
	if err != nil || len(names) != 0 {
		t.Fatalf("plots %v, %v; want none", names, err)
	}
}

func TestNoDataRemovesAnEarlierRunsPlot(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "growth.png")
	if err := os.WriteFile(stale, []byte("an earlier run's plot"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Build(&Run{Benchmarks: []Benchmark{{Name: "BenchmarkX", Iterations: 1, Metrics: []Metric{{Value: 3, Unit: "ns/op"}}}}},
		Machine{}, Targets(), Comparisons(), build(t).Generated)
	if _, err := WritePlots(dir, r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale growth.png is still there (stat: %v)", err)
	}
}
