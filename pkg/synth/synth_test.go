package synth

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func generate(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = testNow
	}
	c, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dumpSum(t *testing.T, c *Cluster) [32]byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteDump(&buf, c); err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(buf.Bytes())
}

func TestSameSeedGivesByteIdenticalDump(t *testing.T) {
	a := dumpSum(t, generate(t, Options{Size: Small, Seed: 1}))
	b := dumpSum(t, generate(t, Options{Size: Small, Seed: 1}))
	if a != b {
		t.Fatalf("two generations with seed 1 differ: %x != %x", a, b)
	}
	if other := dumpSum(t, generate(t, Options{Size: Small, Seed: 2})); other == a {
		t.Fatalf("seeds 1 and 2 gave the same dump %x", a)
	}
	if later := dumpSum(t, generate(t, Options{Size: Small, Seed: 1, Now: testNow.Add(time.Hour)})); later == a {
		t.Fatalf("a different now gave the same dump %x", a)
	}
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"a zero now is refused, so that ages are reproducible", Options{Size: Small}},
		{"an unknown size without an image count is refused", Options{Size: "XL", Now: testNow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Generate(tc.o); err == nil {
				t.Fatal("Generate succeeded")
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{"S": Small, "m": Medium, " L ": Large} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseSize("XL"); err == nil {
		t.Error("ParseSize(XL) succeeded")
	}
}

// TestCountsFollowTheShape checks every exact count of the package comment at size S.
func TestCountsFollowTheShape(t *testing.T) {
	c := generate(t, Options{Size: Small, Seed: 7})
	sh := c.Shape
	want := map[string]int{
		"Image": 2000, "Namespace": 21, "ImageStream": 100, "Pod": 1000, "Deployment": 100, "ReplicaSet": 200,
		"DeploymentConfig": 10, "ReplicationController": 20, "StatefulSet": 5, "DaemonSet": 2, "Job": 10,
		"CronJob": 5, "BuildConfig": 20, "Build": 60, "LimitRange": 2,
	}
	got := c.Counts()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d objects, want %d", k, got[k], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("kinds %v, want exactly %v", got, want)
	}
	if sh != ShapeOf(2000) || c.Total() != 3534+21 {
		t.Errorf("shape %+v total %d; want ShapeOf(2000) and 3555 objects", sh, c.Total())
	}
}
