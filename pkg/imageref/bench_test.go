package imageref

import "testing"

// BenchmarkPullSpec measures resolving the pull spec of a typical OpenShift container image.
func BenchmarkPullSpec(b *testing.B) {
	for _, bc := range []struct{ name, spec string }{
		{"tag", "image-registry.openshift-image-registry.svc:5000/ns-0/app-1:latest"},
		{"digest", "image-registry.openshift-image-registry.svc:5000/ns-0/app-0@" + dgst},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := PullSpec(bc.spec); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/ref")
		})
	}
}
