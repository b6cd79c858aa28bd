package imageref

import (
	"runtime"
	"testing"
)

// refsPerOp is how many pull specs one iteration resolves, so that -benchtime 1x (make bench)
// measures a steady state rather than one cold call.
const refsPerOp = 10_000

// BenchmarkPullSpec measures resolving the pull spec of a typical OpenShift container image.
func BenchmarkPullSpec(b *testing.B) {
	for _, bc := range []struct{ name, spec string }{
		{"tag", "image-registry.openshift-image-registry.svc:5000/ns-0/app-1:latest"},
		{"digest", "image-registry.openshift-image-registry.svc:5000/ns-0/app-0@" + dgst},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				for range refsPerOp {
					if _, err := PullSpec(bc.spec); err != nil {
						b.Fatal(err)
					}
				}
			}
			runtime.ReadMemStats(&after)
			n := float64(b.N * refsPerOp)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n/1000, "µs/ref")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/ref")
		})
	}
}
