package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// Carried is what a report took over from an earlier one.
type Carried struct {
	// Sizes are the cluster sizes whose lines were carried over; Lines how many.
	Sizes []string `json:"sizes,omitempty"`
	Lines int      `json:"lines"`
	// Skipped says why an earlier report was not used (another machine), else "".
	Skipped string `json:"skipped,omitempty"`
}

// Merge returns run completed with the sized lines of prev (an earlier report, usually the
// results directory's latest.json) measured at sizes run measured nothing at, so that a run of
// one size (`PRUNEGUARD_BENCH_SIZES=L make bench`, or `make bench-quick` after a full run)
// keeps the other sizes' columns in the growth tables and plots instead of dropping them.
//
// The rules, so that a carried number never passes for a fresh one:
//   - only lines with a size are carried, and only at sizes the new run has no line at: a
//     size the new run measured is the new run's alone, a failure included;
//   - lines without a size (benchmarks on their own fixtures) are never carried: every run
//     of `make bench` measures them again;
//   - every carried line keeps CarriedFrom, the time of the run that measured it (a line the
//     earlier report had itself carried keeps its original time), and the report marks it;
//   - nothing is carried from a report measured on another machine (CPU model or cores).
//
// run is not modified. A nil prev returns run and a nil Carried.
func Merge(run *Run, prev *Report, m Machine) (*Run, *Carried) {
	if prev == nil || prev.Run == nil {
		return run, nil
	}
	if prev.Machine.CPU != m.CPU || prev.Machine.Cores != m.Cores {
		return run, &Carried{Skipped: fmt.Sprintf("the earlier report was measured on another machine (%s, %d cores)",
			orDash(prev.Machine.CPU), prev.Machine.Cores)}
	}
	measured := map[string]bool{}
	for _, b := range run.Benchmarks {
		if b.Size != "" {
			measured[b.Size] = true
		}
	}
	out := *run
	out.Benchmarks = slices.Clone(run.Benchmarks)
	c := &Carried{}
	for _, b := range prev.Run.Benchmarks {
		if b.Size == "" || measured[b.Size] {
			continue
		}
		if b.CarriedFrom.IsZero() {
			b.CarriedFrom = prev.Generated
		}
		out.Benchmarks = append(out.Benchmarks, b)
		c.Lines++
		if !slices.Contains(c.Sizes, b.Size) {
			c.Sizes = append(c.Sizes, b.Size)
		}
	}
	if c.Lines == 0 {
		return run, nil
	}
	sort.Slice(c.Sizes, func(i, j int) bool { return sizeRank(c.Sizes[i]) < sizeRank(c.Sizes[j]) })
	return &out, c
}

func sizeRank(s string) int { return strings.Index("SML", s) }

// ReadReport reads a report written by WriteFiles (JSONFile); a missing file is (nil, nil).
func ReadReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read the earlier report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("failed to decode the earlier report %s (pass -fresh to start over): %w", path, err)
	}
	return &r, nil
}

// carriedNote words when a carried value was measured, for the tables.
func carriedNote(t time.Time) string {
	return "measured " + t.UTC().Format("2006-01-02 15:04 MST")
}
