package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
