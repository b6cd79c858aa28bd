// Command report reads `go test -bench` output and writes pruneguard's benchmark report: a
// markdown table on stdout and in DIR/latest.md, the raw numbers in DIR/latest.json and PNG
// plots in DIR.
//
//	go test -run '^$' -bench . ./... | tee bench-output.txt
//	go run ./bench/cmd/report < bench-output.txt
//	go run ./bench/cmd/report -in bench-output.txt -out bench/results
//
// The sized lines of DIR/latest.json at sizes the new output has none at are carried over
// (report.Merge), so that a run of one size keeps the others' columns; -fresh leaves them out.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pruneguard/pruneguard/bench/report"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// errNoBenchmarks means the input held no benchmark line: the benchmarks did not run, which
// must fail `make bench` rather than print a table of "not measured".
var errNoBenchmarks = errors.New("the input holds no benchmark line: did `go test -bench` run?")

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "", "benchmark output to read (default: standard input)")
	out := fs.String("out", "bench/results", "directory for latest.md, latest.json and the plots")
	failMissed := fs.Bool("fail-on-missed", false, "exit non-zero when a measured target is missed")
	fresh := fs.Bool("fresh", false, "do not carry over an earlier report's results at sizes this run did not measure")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r := stdin
	if *in != "" {
		f, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("failed to open the benchmark output: %w", err)
		}
		defer f.Close()
		r = f
	}
	parsed, err := report.Parse(r)
	if err != nil {
		return err
	}
	if len(parsed.Benchmarks) == 0 {
		return errNoBenchmarks
	}
	machine := report.ReadMachine(parsed.CPU)
	var carried *report.Carried
	if !*fresh {
		prev, err := report.ReadReport(filepath.Join(*out, report.JSONFile))
		if err != nil {
			return err
		}
		parsed, carried = report.Merge(parsed, prev, machine)
	}
	rep := report.Build(parsed, machine, report.Targets(), report.Comparisons(), time.Now())
	rep.Carried = carried
	rep.Quick = report.Quick()
	if err := report.WriteFiles(*out, rep); err != nil {
		return err
	}
	if err := report.WriteMarkdown(stdout, rep); err != nil {
		return err
	}
	if *failMissed {
		for _, res := range rep.Results {
			if res.Status == report.Missed && !res.OtherSize && res.CarriedFrom.IsZero() {
				return fmt.Errorf("target missed: %s (%s %s %g, measured %g)",
					res.Target.What, res.Target.Metric, res.Target.Op, res.Target.Value, res.Value)
			}
		}
	}
	return nil
}
