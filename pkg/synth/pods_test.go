package synth

import (
	"testing"
	"time"
)

func TestPodsOverridesThePodCountAndNothingElse(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	base, err := Generate(Options{Images: 400, Seed: 3, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	more, err := Generate(Options{Images: 400, Pods: 1000, Seed: 3, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	got, want := more.Counts(), base.Counts()
	if got["Pod"] != 1000 || want["Pod"] != 200 {
		t.Fatalf("pods: %d with Pods 1000 (want 1000), %d without (want 200)", got["Pod"], want["Pod"])
	}
	for kind, n := range want {
		if kind != "Pod" && got[kind] != n {
			t.Errorf("%s: %d with Pods set, %d without; only pods may change", kind, got[kind], n)
		}
	}
}
