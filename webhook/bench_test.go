package webhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/pruneguard/pruneguard/bench/report"
	"github.com/pruneguard/pruneguard/pkg/index"
)

// writeServingCert writes a self-signed certificate for 127.0.0.1 into dir and returns a pool
// trusting it.
func writeServingCert(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pruneguard-bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, CertName), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyName), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// BenchmarkHandlerTLS measures the handler alone, in process, over TLS on loopback: pod
// CREATE reviews, each recording a pending record in a real Badger index through the group
// commit, from 32 concurrent keep-alive clients (the API server keeps a pool of connections
// to a webhook). It reports reviews per second and the client-side latency percentiles.
func BenchmarkHandlerTLS(b *testing.B) {
	dir := b.TempDir()
	pool := writeServingCert(b, dir)
	ix, err := index.Open(index.Options{Dir: filepath.Join(dir, "index")})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	c := NewCommitter(ix, logr.Discard(), nil)
	port := freePort(b)
	srv := NewServer(ServerOptions{Host: "127.0.0.1", Port: port, CertDir: dir, Path: "/validate"},
		NewHandler(Options{Recorder: c, Metrics: m, Logger: logr.Discard()}))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	go func() { defer wg.Done(); _ = srv.Start(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	const workers = 32
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: workers, ForceAttemptHTTP2: false,
	}}
	url := fmt.Sprintf("https://127.0.0.1:%d/validate", port)
	waitServing(b, client, url)

	bodies := make([][]byte, 1000)
	for i := range bodies {
		bodies[i] = reviewOf(b, admissionv1.Create, pod(fmt.Sprintf("bench-%d", i), registry+"/shop/app:v1", registry+"/shop/side@"+digestA), nil, false)
	}
	total := 20000 * b.N
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	b.ResetTimer()
	start := time.Now()
	var cw sync.WaitGroup
	for w := range workers {
		cw.Add(1)
		go func() {
			defer cw.Done()
			for i := next.Add(1); i <= int64(total); i = next.Add(1) {
				t0 := time.Now()
				if err := post(client, url, bodies[i%int64(len(bodies))]); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	cw.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "reviews/s")
	// Client-side latency with 32 requests in flight on 2 cores: mostly queueing.
	report.Latencies(b, "review-ms", time.Millisecond, all)
	b.ReportMetric(0, "ns/op")
}

func post(c *http.Client, url string, body []byte) error {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(data, []byte(`"allowed":true`)) {
		return fmt.Errorf("status %d: %s", resp.StatusCode, data)
	}
	return nil
}

func waitServing(b *testing.B, c *http.Client, url string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("webhook server not serving: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// discardRecorder accepts every op at once, so that BenchmarkServeHTTP measures the handler's
// own CPU and allocations (decode, extract, answer) without the index.
type discardRecorder struct{}

func (discardRecorder) Submit(context.Context, index.Op) error { return nil }

// BenchmarkServeHTTP measures one review through ServeHTTP in process, without TLS and
// without the index: the handler's CPU time and allocations per review.
func BenchmarkServeHTTP(b *testing.B) {
	old := pod("web", registry+"/shop/app:v1", registry+"/shop/side@"+digestA)
	relabelled := pod("web", registry+"/shop/app:v1", registry+"/shop/side@"+digestA)
	relabelled.Labels = map[string]string{"tier": "front"}
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"pod-create", reviewOf(b, admissionv1.Create, old, nil, false)},
		{"pod-update-same-refs", reviewOf(b, admissionv1.Update, relabelled, old, false)},
		{"pod-update-new-image", reviewOf(b, admissionv1.Update, pod("web", registry+"/shop/app:v2"), old, false)},
		{"deployment-pod-create", reviewOf(b, admissionv1.Create, deploymentPod(), nil, false)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m, err := NewMetrics(prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			h := NewHandler(Options{Recorder: discardRecorder{}, Metrics: m, Logger: logr.Discard()})
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(tc.body)))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// deploymentPod is a pod as a Deployment's ReplicaSet creates it and the API server sends it
// to the webhook: labels, an owner, managed fields, resources, probes, environment, volumes and
// tolerations around the two images the handler reads (about 4 KiB of JSON).
func deploymentPod() *corev1.Pod {
	p := pod("web-7d9f8b6c5d-x2x7k", registry+"/shop/app:v1", registry+"/shop/side@"+digestA)
	p.Labels = map[string]string{"app": "web", "pod-template-hash": "7d9f8b6c5d", "tier": "front"}
	p.Annotations = map[string]string{"openshift.io/scc": "restricted-v2", "seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9f8b6c5d", UID: "rs-uid"}}
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate,
		APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"rs-uid\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c0\"}":{".":{},"f:env":{},"f:image":{},"f:name":{},"f:ports":{},"f:resources":{}}}}}`)}}}
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		c.Env = []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
		c.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}}
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}}, PeriodSeconds: 10}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}}
		c.TerminationMessagePath, c.TerminationMessagePolicy, c.ImagePullPolicy = "/dev/termination-log", corev1.TerminationMessageReadFile, corev1.PullIfNotPresent
	}
	p.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}}}}}}}
	p.Spec.Tolerations = []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}}
	p.Spec.ServiceAccountName, p.Spec.DNSPolicy, p.Spec.RestartPolicy, p.Spec.SchedulerName = "default", corev1.DNSClusterFirst, corev1.RestartPolicyAlways, "default-scheduler"
	p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	return p
}
