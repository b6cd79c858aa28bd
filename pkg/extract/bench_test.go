package extract

import (
	"encoding/json"
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
	b.ReportAllocs()
	for b.Loop() {
		res, err := Object(p)
		if err != nil || len(res.Referrer.Refs) != 3 {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/pod")
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
	b.ReportAllocs()
	for b.Loop() {
		obj, err := d.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		if res, err := Object(obj); err != nil || len(res.Referrer.Refs) != 3 {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/pod")
}
