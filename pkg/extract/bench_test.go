package extract

import (
	"encoding/json"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// typicalPod is a pod as OpenShift runs it: an init container and two containers, images
// by tag and by digest from the internal registry.
func typicalPod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: meta("web-7d9f8c6b5-x2x9z"), Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{ctr("migrate", host+"/ns-a/app@"+digestA)},
		Containers:     []corev1.Container{ctr("app", host+"/ns-a/app@"+digestA), ctr("proxy", host+"/ns-a/proxy:v1.4")},
	}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
}

// BenchmarkExtractPod measures Object on a typed pod, the webhook's and the tracker's hot path.
func BenchmarkExtractPod(b *testing.B) {
	p := typicalPod()
	perPod(b, func() {
		res, err := Object(p)
		if err != nil || len(res.Referrer.Refs) != 3 {
			b.Fatalf("%+v %v", res, err)
		}
	})
}

// BenchmarkDecodeAndExtractPod measures decoding the pod's JSON and extracting it, what the
// webhook does with an admission request's object.
func BenchmarkDecodeAndExtractPod(b *testing.B) {
	p := typicalPod()
	p.APIVersion, p.Kind = "v1", "Pod"
	data, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	d := NewDecoder()
	perPod(b, func() {
		obj, err := d.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		if res, err := Object(obj); err != nil || len(res.Referrer.Refs) != 3 {
			b.Fatalf("%+v %v", res, err)
		}
	})
}

// podsPerOp is how many pods one iteration handles, so that -benchtime 1x (make bench)
// measures a steady state rather than one cold call.
const podsPerOp = 10_000

// perPod runs one podsPerOp times per iteration and reports the time and the allocations per
// pod.
func perPod(b *testing.B, one func()) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		for range podsPerOp {
			one()
		}
	}
	runtime.ReadMemStats(&after)
	n := float64(b.N * podsPerOp)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n/1000, "µs/pod")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/pod")
}
