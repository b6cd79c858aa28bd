package audit_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// cluster is the real control plane of the integration test with what the test created.
type cluster struct {
	env                *testenv.Env
	cs                 *kubernetes.Clientset
	web, tools, unused *testenv.Pushed
	ix                 *index.Index
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a kube-apiserver, etcd and a registry")
	}
	if _, err := testenv.Tool("kube-apiserver"); errors.Is(err, testenv.ErrToolMissing) {
		t.Skip(err)
	}
	ctx := context.Background()
	env := testenv.StartT(t, testenv.Options{Registry: true})
	c := &cluster{env: env}
	var err error
	if c.cs, err = kubernetes.NewForConfig(env.Config); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"shop", "team"} {
		mustCreate(t, env.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	push := func(ns, stream, tag string) *testenv.Pushed {
		p, err := env.Push(ctx, testenv.PushOptions{Namespace: ns, Stream: stream, Tag: tag, Layers: 1})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	c.web, c.tools, c.unused = push("shop", "web", "v1"), push("team", "tools", "latest"), push("shop", "old", "v1")
	host := env.Registry.Host
	for _, p := range []*corev1.Pod{
		podObject("shop", "front", map[string]string{"app": c.web.PullSpec, "sidecar": host + "/shop/web:v1"}),
		podObject("team", "batch", map[string]string{"run": c.web.PullSpec}),
		podObject("team", "runner", map[string]string{"tool": host + "/team/tools:latest"}),
	} {
		p.TypeMeta, p.CreationTimestamp, p.Status = metav1.TypeMeta{}, metav1.Time{}, corev1.PodStatus{}
		mustCreate(t, env.Client, p)
	}
	mustCreate(t, env.Client, deployment("shop", "web", c.web.PullSpec))
	c.ix = loadIndex(t, env.Client)
	return c
}

func mustCreate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}

func deployment(ns, name, image string) *kappsv1.Deployment {
	labels := map[string]string{"app": name}
	return &kappsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: kappsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}}}
}

// loadIndex lists every object of the kinds the test created from the API server and puts
// what pkg/extract makes of each into a fresh index, as a rebuild of serve does.
func loadIndex(t *testing.T, c client.Client) *index.Index {
	t.Helper()
	ctx := context.Background()
	ix, err := index.Open(index.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	var ops []index.Op
	add := func(obj client.Object) {
		res, err := extract.Object(obj)
		if err != nil {
			t.Fatal(err)
		}
		if res.Referrer != nil { // an ImageStream is a referrer (spec tags) and a stream
			ops = append(ops, index.PutObject(*res.Referrer))
		}
		if res.Image != nil {
			ops = append(ops, index.PutImage(*res.Image))
		}
		if res.Stream != nil {
			ops = append(ops, index.PutStream(*res.Stream))
		}
	}
	pods, deps, images, streams := &corev1.PodList{}, &kappsv1.DeploymentList{}, &imagev1.ImageList{}, &imagev1.ImageStreamList{}
	for _, l := range []client.ObjectList{pods, deps, images, streams} {
		if err := c.List(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	for i := range pods.Items {
		add(&pods.Items[i])
	}
	for i := range deps.Items {
		add(&deps.Items[i])
	}
	for i := range images.Items {
		add(&images.Items[i])
	}
	for i := range streams.Items {
		add(&streams.Items[i])
	}
	if err := ix.Apply(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	return ix
}

// serviceAccountToken creates a service account, binds it as bind says, and returns a token.
func (c *cluster) serviceAccountToken(t *testing.T, ns, name string, bind func(subject rbacv1.Subject)) string {
	t.Helper()
	ctx := context.Background()
	mustCreate(t, c.env.Client, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
	if bind != nil {
		bind(rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name})
	}
	tr, err := c.cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of %s/%s: %v", ns, name, err)
	}
	return tr.Status.Token
}

func ptr[T any](v T) *T { return &v }

// bindNamespaceReader grants get on imagestreams in ns only (a Role and a RoleBinding).
func (c *cluster) bindNamespaceReader(t *testing.T, ns string) func(rbacv1.Subject) {
	return func(s rbacv1.Subject) {
		mustCreate(t, c.env.Client, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "imagestream-reader"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"image.openshift.io"}, Resources: []string{"imagestreams"}, Verbs: []string{"get"}}}})
		mustCreate(t, c.env.Client, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "imagestream-reader"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "imagestream-reader"},
			Subjects: []rbacv1.Subject{s}})
	}
}

// bindClusterAuditor grants get on images cluster-wide and get /metrics.
func (c *cluster) bindClusterAuditor(t *testing.T) func(rbacv1.Subject) {
	return func(s rbacv1.Subject) {
		mustCreate(t, c.env.Client, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pruneguard-auditor"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{"image.openshift.io"}, Resources: []string{"images"}, Verbs: []string{"get"}},
				{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}},
			}})
		mustCreate(t, c.env.Client, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pruneguard-auditor"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pruneguard-auditor"},
			Subjects: []rbacv1.Subject{s}})
	}
}

// serveAPI serves the audit API and a protected /metrics over TLS, as serve mounts them, and
// returns the server with the path of its CA certificate.
func (c *cluster) serveAPI(t *testing.T, trail audit.TrailReader) (*httptest.Server, string) {
	t.Helper()
	authz := audit.NewKubeAuthorizer(c.env.Client, audit.KubeAuthorizerOptions{})
	mux := http.NewServeMux()
	mux.Handle(audit.APIPrefix, audit.NewHandler(c.ix, authz, audit.HandlerOptions{Trail: trail}))
	mux.Handle("/metrics", audit.Protect(authz, audit.MetricsAccess(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("pruneguard_fences_active 0\n"))
	})))
	srv := httptest.NewUnstartedServer(mux)
	// The test makes one deliberately unverified connection; its handshake error is expected.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.crt")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

func referrerKeys(rs []audit.Referrer) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Object.String()+" "+r.Container+" "+r.State)
	}
	slices.Sort(out)
	return out
}

func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func TestAuditAPIOnRealControlPlane(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	viewer := c.serviceAccountToken(t, "shop", "viewer", c.bindNamespaceReader(t, "shop"))
	auditor := c.serviceAccountToken(t, "default", "auditor", c.bindClusterAuditor(t))
	nobody := c.serviceAccountToken(t, "default", "nobody", nil)
	srv, caFile := c.serveAPI(t, nil)
	as := func(token string) *audit.Client {
		return audit.NewClient(audit.ClientOptions{BaseURL: srv.URL, Token: token, HTTPClient: srv.Client()})
	}
	// Every reference to the web image the test created, by digest or through shop/web:v1.
	allWeb := []string{"Pod/shop/front app confirmed", "Pod/shop/front sidecar confirmed",
		"Pod/team/batch run confirmed", "Deployment/shop/web app confirmed"}

	t.Run("refs answers match the objects created", func(t *testing.T) {
		for _, image := range []string{c.web.Digest, c.web.PullSpec, "shop/web:v1"} {
			res, err := audit.AllReferrers(ctx, as(auditor), audit.ImageQuery{Image: image}, 2)
			if err != nil {
				t.Fatal(err)
			}
			sameSet(t, "referrers of "+image, referrerKeys(res.Referrers), slices.Clone(allWeb))
			if res.Image != c.web.Digest {
				t.Errorf("%s resolved to %s, want %s", image, res.Image, c.web.Digest)
			}
		}
		tools, err := as(auditor).Referrers(ctx, audit.ImageQuery{Image: c.tools.Digest})
		if err != nil {
			t.Fatal(err)
		}
		sameSet(t, "referrers of tools", referrerKeys(tools.Referrers), []string{"Pod/team/runner tool confirmed"})
		obj, err := as(auditor).ObjectImages(ctx, audit.ObjectQuery{Object: "Pod/shop/front"})
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range obj.Images {
			if im.Digest != c.web.Digest || !im.Known {
				t.Errorf("Pod/shop/front %s resolves to %s (known %v), want %s", im.Container, im.Digest, im.Known, c.web.Digest)
			}
		}
		unref, err := audit.AllImages(ctx, as(auditor), audit.ImagesQuery{Filter: audit.FilterUnreferenced}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(unref.Images) != 1 || unref.Images[0].Digest != c.unused.Digest {
			t.Errorf("unreferenced images %+v, want only %s", unref.Images, c.unused.Digest)
		}
	})

	t.Run("a user bound to one namespace sees that namespace and gets 403 for others", func(t *testing.T) {
		res, err := as(viewer).Referrers(ctx, audit.ImageQuery{Image: c.web.Digest, Namespace: "shop"})
		if err != nil {
			t.Fatal(err)
		}
		sameSet(t, "shop's referrers", referrerKeys(res.Referrers),
			[]string{"Pod/shop/front app confirmed", "Pod/shop/front sidecar confirmed", "Deployment/shop/web app confirmed"})
		if _, err := as(viewer).Images(ctx, audit.ImagesQuery{Namespace: "shop"}); err != nil {
			t.Errorf("images of shop: %v", err)
		}
		for what, call := range map[string]func() error{
			"refs in team": func() error {
				_, err := as(viewer).Referrers(ctx, audit.ImageQuery{Image: c.web.Digest, Namespace: "team"})
				return err
			},
			"refs cluster-wide": func() error { _, err := as(viewer).Referrers(ctx, audit.ImageQuery{Image: c.web.Digest}); return err },
			"an object in team": func() error {
				_, err := as(viewer).ObjectImages(ctx, audit.ObjectQuery{Object: "Pod/team/batch"})
				return err
			},
			"images cluster-wide":        func() error { _, err := as(viewer).Images(ctx, audit.ImagesQuery{}); return err },
			"a user without any binding": func() error { _, err := as(nobody).Images(ctx, audit.ImagesQuery{Namespace: "shop"}); return err },
			"a tag of team through shop's": func() error {
				_, err := as(viewer).Referrers(ctx, audit.ImageQuery{Image: "team/tools:latest", Namespace: "shop"})
				return err
			},
		} {
			if err := call(); !errors.Is(err, audit.ErrForbidden) {
				t.Errorf("%s: err = %v, want 403", what, err)
			}
		}
	})

	t.Run("an anonymous or unknown caller gets 401", func(t *testing.T) {
		for _, path := range []string{audit.PathRefs + "?image=" + c.web.Digest, audit.PathImages, "/metrics"} {
			resp, err := srv.Client().Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("anonymous GET %s: %d, want 401", path, resp.StatusCode)
			}
		}
		if _, err := as("not-a-token").Images(ctx, audit.ImagesQuery{}); !errors.Is(err, audit.ErrUnauthorized) {
			t.Errorf("bogus token: err = %v, want 401", err)
		}
	})

	t.Run("metrics need get /metrics", func(t *testing.T) {
		for token, want := range map[string]int{auditor: 200, viewer: 403} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("/metrics: %d, want %d", resp.StatusCode, want)
			}
		}
	})

	t.Run("the CLI asks the API with --server and --token", func(t *testing.T) {
		code, out, errOut := runCLI("refs", c.web.Digest, "--server", srv.URL, "--token", auditor, "--certificate-authority", caFile, "-o", "json")
		var res audit.ImageReferrers
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		sameSet(t, "CLI referrers", referrerKeys(res.Referrers), slices.Clone(allWeb))
		code, _, errOut = runCLI("refs", c.web.Digest, "-n", "team", "--server", srv.URL, "--token", viewer, "--certificate-authority", caFile)
		if code != 1 || !strings.Contains(errOut, "may not get imagestreams.image.openshift.io in namespace team") {
			t.Errorf("viewer in team: exit %d, %s", code, errOut)
		}
		code, out, _ = runCLI("images", "--unreferenced", "--server", srv.URL, "--token", auditor, "--certificate-authority", caFile)
		if code != 0 || !strings.Contains(out, c.unused.Digest) {
			t.Errorf("images --unreferenced: exit %d:\n%s", code, out)
		}
		if code, _, errOut := runCLI("images", "--server", srv.URL, "--token", auditor); code != 1 || !strings.Contains(errOut, "certificate") {
			t.Errorf("an unverified server certificate: exit %d, %s", code, errOut)
		}
	})

	t.Run("the CLI finds serve through the API server's service proxy", func(t *testing.T) { checkServiceProxy(t, c, viewer) })

	t.Run("trail records become Events on the Image and the ImageStream", func(t *testing.T) { checkTrailEvents(t, c) })

	// Last: the pending records it adds would show in the referrer sets above.
	t.Run("refs --object lists pending references marked pending, through the API and the CLI", func(t *testing.T) {
		checkPendingObject(t, c, srv, caFile, auditor)
	})
}
