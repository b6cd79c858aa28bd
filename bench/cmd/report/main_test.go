package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pruneguard/pruneguard/bench/report"
)

func TestRunWritesTheReport(t *testing.T) {
	dir := t.TempDir()
	in, err := os.ReadFile("../../report/testdata/bench-output.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"-out", dir}, bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "## Targets") {
		t.Errorf("stdout has no targets table:\n%s", out.String())
	}
	for _, f := range []string{"latest.md", "latest.json", "growth.png", "latency.png", "cost-plan-time.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "latest.md"))
	if !bytes.Equal(md, out.Bytes()) {
		t.Error("latest.md differs from what was printed")
	}
	err = run([]string{"-out", dir, "-in", "../../report/testdata/bench-output.txt", "-fail-on-missed"}, nil, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "target missed") {
		t.Errorf("-fail-on-missed: err = %v, want a missed target", err)
	}
}

func TestRunRefusesOutputWithoutBenchmarks(t *testing.T) {
	err := run([]string{"-out", t.TempDir()}, strings.NewReader("PASS\nok\tpkg\t0.1s\n"), &bytes.Buffer{})
	if !errors.Is(err, errNoBenchmarks) {
		t.Fatalf("err = %v, want errNoBenchmarks", err)
	}
}

// TestRunOfOneSizeKeepsTheOthers runs the command on the output of an S and M run, then on
// that of an L run into the same directory: the report keeps S and M, marked as carried,
// unless -fresh is given.
func TestRunOfOneSizeKeepsTheOthers(t *testing.T) {
	dir := t.TempDir()
	const sm = "pkg: example.com/p\n" +
		"BenchmarkPlan/size=S-2 1 100 ns/op 0.5 full-plan-s\n" +
		"BenchmarkPlan/size=M-2 1 100 ns/op 5 full-plan-s\n"
	const l = "pkg: example.com/p\nBenchmarkPlan/size=L-2 1 100 ns/op 60 full-plan-s\n"
	if err := run([]string{"-out", dir}, strings.NewReader(sm), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"-out", dir}, strings.NewReader(l), &out); err != nil {
		t.Fatal(err)
	}
	if want := "| `full-plan-s` | 0.5 † | 5 † | 60 | 10× | 12× |"; !strings.Contains(out.String(), want) {
		t.Errorf("the L run's report lacks %q:\n%s", want, out.String())
	}
	out.Reset()
	if err := run([]string{"-out", dir, "-fresh"}, strings.NewReader(l), &out); err != nil {
		t.Fatal(err)
	}
	if want := "| `full-plan-s` | — | — | 60 | — | — |"; !strings.Contains(out.String(), want) {
		t.Errorf("the -fresh report lacks %q:\n%s", want, out.String())
	}
}

// TestRunMarksAQuickRun: under `make bench-quick` (report.QuickEnv set) the report says so,
// in latest.json and in the markdown.
func TestRunMarksAQuickRun(t *testing.T) {
	t.Setenv(report.QuickEnv, "1")
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run([]string{"-out", dir, "-in", "../../report/testdata/bench-output.txt"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "A quick run") {
		t.Errorf("the markdown does not say the run was quick:\n%s", out.String())
	}
	prev, err := report.ReadReport(filepath.Join(dir, report.JSONFile))
	if err != nil || prev == nil || !prev.Quick {
		t.Errorf("latest.json: quick not set (report %v, error %v)", prev != nil, err)
	}
}
