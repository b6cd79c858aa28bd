package fence_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/fence"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/scheme"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// denyRig is the real control plane with the chart's Fence CRD and webhook configuration,
// one replica serving the webhook with the fence checker, and the denial auditor writing to
// a trail of its own.
type denyRig struct {
	env     *testenv.Env
	client  client.Client // with the fence types
	watcher *fence.Watcher
	trail   *audit.Trail
	srv     *server.Server
}

func startDenyRig(t *testing.T) *denyRig {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a kube-apiserver and etcd")
	}
	_, file, _, _ := runtime.Caller(0)
	chartDir := filepath.Join(filepath.Dir(file), "..", "..", "charts", "pruneguard")
	env, stop, err := testenv.Start(context.Background(), testenv.Options{
		CRDPaths: []string{filepath.Join(chartDir, "crds")},
		Webhooks: &envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1"},
	})
	if errors.Is(err, testenv.ErrToolMissing) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	r := &denyRig{env: env}
	s := scheme.New()
	if err := fence.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if r.client, err = client.New(env.Config, client.Options{Scheme: s}); err != nil {
		t.Fatal(err)
	}
	registerChartWebhook(t, env)
	if r.trail, err = audit.OpenTrail(audit.TrailOptions{Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.trail.Close() })
	r.startReplica(t)
	return r
}

func registerChartWebhook(t *testing.T, env *testenv.Env) {
	t.Helper()
	helm, err := testenv.Tool("helm")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	vwc, err := chart.WebhookConfiguration(ctx, chart.Options{Helm: helm})
	if err != nil {
		t.Fatal(err)
	}
	wio := env.Control.WebhookInstallOptions
	url := "https://" + net.JoinHostPort(wio.LocalServingHost, fmt.Sprint(wio.LocalServingPort))
	if err := env.Client.Create(ctx, chart.PointAt(vwc, url, wio.LocalServingCAData)); err != nil {
		t.Fatal(err)
	}
}

// startReplica runs one serve replica whose fence checker records denials with the
// DenialAuditor (set before server.New, so the server keeps it).
func (r *denyRig) startReplica(t *testing.T) {
	t.Helper()
	var err error
	if r.watcher, err = fence.NewWatcher(fence.WatcherOptions{Config: r.env.Config, Replica: replica}); err != nil {
		t.Fatal(err)
	}
	auditor := &fence.DenialAuditor{Logger: logr.Discard(),
		Recorder: audit.NewRecorder(audit.RecorderOptions{Trail: r.trail, Actor: replica})}
	checker := &fence.Checker{Source: r.watcher, OnDeny: auditor.OnDeny}
	wio := r.env.Control.WebhookInstallOptions
	r.srv, err = server.New(server.Options{
		Config: r.env.Config, DataDir: t.TempDir(),
		WebhookHost: wio.LocalServingHost, WebhookPort: wio.LocalServingPort, CertDir: wio.LocalServingCertDir,
		MetricsBindAddress: server.Disabled, HealthProbeBindAddress: server.Disabled,
		Registry: prometheus.NewRegistry(), Fence: checker, SweepInterval: time.Second, DiscoveryInterval: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = r.srv.Run(ctx) }()
	go func() { defer wg.Done(); _ = r.watcher.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	eventually(t, 2*time.Minute, "the replica to be in sync", func() bool { return r.srv.Synced() && r.watcher.Synced() })
	eventually(t, 30*time.Second, "the webhook to listen", func() bool {
		return testenv.Listening(net.JoinHostPort(wio.LocalServingHost, fmt.Sprint(wio.LocalServingPort)))
	})
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// allowPods lets user create pods in namespace ns, and nothing else.
func (r *denyRig) allowPods(t *testing.T, ns, user string) {
	t.Helper()
	subject := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}
	if sa, ok := strings.CutPrefix(user, "system:serviceaccount:"+ns+":"); ok {
		mustCreate(t, r.env.Client, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}})
		subject = rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}
	}
	name := "create-pods-" + strings.NewReplacer(":", "-").Replace(user)
	mustCreate(t, r.env.Client, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}}}})
	mustCreate(t, r.env.Client, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{subject}})
}

func mustCreate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("failed to create %T %s: %v", obj, obj.GetName(), err)
	}
}

// as returns a client that impersonates user.
func (r *denyRig) as(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(r.env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{Scheme: r.env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDeniedRecordNamesTheRequestingUser creates, as an ordinary user and as a
// ServiceAccount, a pod that references a fenced image: the API server refuses it through
// pruneguard's webhook, and the trail's denied record names that user as actor, the replica
// apart, and the refused pod as referrer. A pod that references nothing fenced is admitted,
// leaves no record, and is what refs answers from the replica's live index.
func TestDeniedRecordNamesTheRequestingUser(t *testing.T) {
	r := startDenyRig(t)
	ctx := context.Background()
	ns := "deny-audit"
	mustCreate(t, r.env.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	for i, user := range []string{"alice", "system:serviceaccount:" + ns + ":deployer"} {
		digest := fmt.Sprintf("sha256:%064x", i+1)
		t.Run(user, func(t *testing.T) {
			f := &fence.Fence{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("deny-audit-%d", i)},
				Spec: fence.Spec{Images: []string{digest}, Reason: "test"}}
			mustCreate(t, r.client, f)
			eventually(t, 30*time.Second, "the replica to enforce the fence", func() bool {
				_, ok := r.watcher.Fences().Image(digest)
				return ok
			})
			r.allowPods(t, ns, user)
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("web-%d", i)},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app",
					Image: "image-registry.openshift-image-registry.svc:5000/" + ns + "/app@" + digest}}}}
			err := r.as(t, user).Create(ctx, pod)
			if err == nil || !strings.Contains(err.Error(), "being pruned") {
				t.Fatalf("create as %s: %v, want a denial by the fence", user, err)
			}
			rec := waitRecords(t, r.trail, digest, 1)[0]
			if rec.Action != audit.ActionDenied || rec.Actor != user || rec.Replica != replica {
				t.Errorf("denied record: action %s, actor %q, replica %q; want denied by %q on %q", rec.Action, rec.Actor, rec.Replica, user, replica)
			}
			want := model.ObjectKey{Kind: model.KindPod, Namespace: ns, Name: pod.Name}
			if len(rec.Referrers) != 1 || rec.Referrers[0].Object != want || rec.Referrers[0].Ref.Digest != digest {
				t.Errorf("denied record referrers %+v, want %v naming %s", rec.Referrers, want, digest)
			}
		})
	}
	t.Run("an allowed pod is what refs answers from the replica's live index", func(t *testing.T) {
		digest := fmt.Sprintf("sha256:%064x", 99)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "allowed"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app",
				Image: "image-registry.openshift-image-registry.svc:5000/" + ns + "/app@" + digest}}}}
		if err := r.as(t, "alice").Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		src := audit.NewLocal(r.srv.Index(), nil)
		var refs *audit.ImageReferrers
		eventually(t, 30*time.Second, "a watch to confirm the pod", func() bool {
			var err error
			refs, err = src.Referrers(ctx, audit.ImageQuery{Image: digest})
			return err == nil && len(refs.Referrers) == 1 && refs.Referrers[0].State == audit.StateConfirmed
		})
		if got := refs.Referrers[0]; got.Object.String() != "Pod/"+ns+"/allowed" || got.Container != "app" || got.Since.IsZero() {
			t.Errorf("referrer %+v", got)
		}
		obj, err := src.ObjectImages(ctx, audit.ObjectQuery{Object: "Pod/" + ns + "/allowed"})
		if err != nil || len(obj.Images) != 1 || obj.Images[0].Digest != digest || obj.Images[0].State != audit.StateConfirmed {
			t.Errorf("refs --object: %+v, %v", obj, err)
		}
		recs, _, err := r.trail.Records(ctx, digest, "", 0, nil)
		if err != nil || len(recs) != 0 {
			t.Errorf("an allowed create left %d trail records (%v)", len(recs), err)
		}
	})
}
