package pruner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/internal/cli"
	"github.com/pruneguard/pruneguard/pkg/testenv"
	"github.com/pruneguard/pruneguard/pruner"
)

// liveNow is the --now of the live tests: two hours after the objects are created, so that
// streams, Images and pods (stamped by the API server with the real time) are old, and tag
// items (stamped by the test) are as old as each case makes them.
var liveNow = time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)

// at returns a creation time age before liveNow.
func at(age time.Duration) time.Time { return liveNow.Add(-age) }

// runLive runs "prune images" against env in-process and returns the exit code and streams.
func runLive(t *testing.T, env *testenv.Env, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	all := append([]string{"prune", "images", "--kubeconfig", env.Kubeconfig, "--now", liveNow.Format(time.RFC3339)}, args...)
	code = cli.Main(context.Background(), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, all)
	return code, out.String(), errOut.String()
}

// planLive runs a JSON dry run and returns the report.
func planLive(t *testing.T, env *testenv.Env, args ...string) pruner.Report {
	t.Helper()
	code, stdout, stderr := runLive(t, env, append(args, "-o", "json")...)
	if code != 0 {
		t.Fatalf("dry run exited %d: %s", code, stderr)
	}
	var r pruner.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("dry run printed no JSON report (%v): %s", err, stdout)
	}
	return r
}

// itemKey names a stream item as the tests compare them.
func itemKey(ns, stream, tag, digest string) string {
	return ns + "/" + stream + ":" + tag + "@" + digest
}

func reportItems(r pruner.Report) map[string]bool {
	set := make(map[string]bool)
	for _, it := range r.ImageStreamItems {
		set[itemKey(it.Namespace, it.ImageStream, it.Tag, it.Image)] = true
	}
	return set
}

func setOf(keys ...string) map[string]bool {
	set := make(map[string]bool)
	for _, k := range keys {
		set[k] = true
	}
	return set
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// streamItems returns the items of a stream's status as item keys.
func streamItems(t *testing.T, env *testenv.Env, ns, name string) map[string]bool {
	t.Helper()
	is := &imagev1.ImageStream{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, is); err != nil {
		t.Fatalf("get image stream %s/%s: %v", ns, name, err)
	}
	set := make(map[string]bool)
	for _, tag := range is.Status.Tags {
		for _, it := range tag.Items {
			set[itemKey(ns, name, tag.Tag, it.Image)] = true
		}
	}
	return set
}

// imageExists reports whether the Image object of digest exists.
func imageExists(t *testing.T, env *testenv.Env, digest string) bool {
	t.Helper()
	err := env.Client.Get(context.Background(), client.ObjectKey{Name: testenv.ImageObjectName(digest)}, &imagev1.Image{})
	return err == nil
}

func manifestServed(t *testing.T, env *testenv.Env, repo, digest string) bool {
	t.Helper()
	ok, err := env.Registry.ManifestExists(context.Background(), repo, digest)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// cleanup deletes every object a case created, so that the next case's prune sees only its own.
func cleanup(t *testing.T, env *testenv.Env, ns string) {
	ctx := context.Background()
	for _, obj := range []client.Object{&imagev1.ImageStream{}, &corev1.Pod{}, &corev1.LimitRange{}} {
		if err := env.Client.DeleteAllOf(ctx, obj, client.InNamespace(ns)); err != nil {
			t.Errorf("cleanup %T in %s: %v", obj, ns, err)
		}
	}
	if err := env.Client.DeleteAllOf(ctx, &imagev1.Image{}); err != nil {
		t.Errorf("cleanup Images: %v", err)
	}
}

func createNamespace(t *testing.T, env *testenv.Env, ns string) {
	t.Helper()
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
}

// createPod creates a pod in ns running image.
func createPod(t *testing.T, env *testenv.Env, ns, name, image string) {
	t.Helper()
	no := false
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
	if err := env.Client.Create(context.Background(), pod); err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
}

// push pushes one revision and fails the test on error.
func push(t *testing.T, env *testenv.Env, o testenv.PushOptions) *testenv.Pushed {
	t.Helper()
	p, err := env.Push(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// history pushes n revisions to ns/stream:tag, oldest first, one minute apart and ending two
// hours before liveNow, and returns them newest first (index = revision - 1).
func history(t *testing.T, env *testenv.Env, ns, stream, tag string, n int) []*testenv.Pushed {
	t.Helper()
	out := make([]*testenv.Pushed, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = push(t, env, testenv.PushOptions{Namespace: ns, Stream: stream, Tag: tag, Created: at(2*time.Hour + time.Duration(i)*time.Minute)})
	}
	return out
}

// flakyRegistry is a proxy in front of the real registry that passes the first `healthy`
// requests (the ping and the dialect probe) and then behaves as a registry that went down:
// it closes every connection without an answer.
type flakyRegistry struct {
	srv     *http.Server
	addr    string
	healthy int64
	n       atomic.Int64
}

func newFlakyRegistry(t *testing.T, target string, healthy int64) *flakyRegistry {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &flakyRegistry{addr: l.Addr().String(), healthy: healthy}
	proxy := httputil.NewSingleHostReverseProxy(u)
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.n.Add(1) <= f.healthy {
			proxy.ServeHTTP(w, r)
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	t.Cleanup(func() { _ = f.srv.Close() })
	return f
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
