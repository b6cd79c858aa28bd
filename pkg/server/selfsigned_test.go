package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// TestSelfSignedCertificatesAndProtectedAPI runs serve without cert-manager: it must issue its
// certificate, put the CA into the webhook configuration, and serve the metrics and audit API
// over TLS to authorised callers only.
func TestSelfSignedCertificatesAndProtectedAPI(t *testing.T) {
	ctx := context.Background()
	const ns = "pg-selfsigned"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	helm, err := testenv.Tool("helm")
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := chart.WebhookConfiguration(ctx, chart.Options{Helm: helm})
	if err != nil {
		t.Fatal(err)
	}
	webhookPort, apiPort := freePort(t), freePort(t)
	vwc := chart.PointAt(rendered, fmt.Sprintf("https://127.0.0.1:%d", webhookPort), nil)
	vwc.Name = "pruneguard-selfsigned"
	if err := env.Client.Create(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), vwc) })

	srv, err := server.New(server.Options{
		Config: env.Config, DataDir: t.TempDir(),
		WebhookHost: "127.0.0.1", WebhookPort: webhookPort,
		SelfSigned: &server.SelfSigned{
			Namespace: ns, Secret: "pruneguard-tls", Service: "pruneguard",
			WebhookConfiguration: vwc.Name, IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
		},
		MetricsBindAddress: fmt.Sprintf("127.0.0.1:%d", apiPort), HealthProbeBindAddress: server.Disabled,
		Registry: prometheus.NewRegistry(), Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	})

	waitFor(t, 2*time.Minute, "the index to be in sync", func() (bool, error) { return srv.Synced(), nil })

	// The CA lands in every webhook of the configuration.
	var caBundle []byte
	waitFor(t, time.Minute, "the CA bundle in the webhook configuration", func() (bool, error) {
		got := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: vwc.Name}, got); err != nil {
			return false, err
		}
		for _, w := range got.Webhooks {
			if len(w.ClientConfig.CABundle) == 0 || !bytes.Equal(w.ClientConfig.CABundle, got.Webhooks[0].ClientConfig.CABundle) {
				return false, nil
			}
		}
		caBundle = got.Webhooks[0].ClientConfig.CABundle
		return true, nil
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caBundle)
	httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	waitFor(t, time.Minute, "the webhook to serve the self-signed certificate", func() (bool, error) {
		c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", webhookPort), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	})

	token := func(sa string) string {
		cs := kubernetes.NewForConfigOrDie(env.Config)
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	reader, stranger := token("metrics-reader"), token("stranger")
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pg-selfsigned-metrics"},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pg-selfsigned-metrics"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "metrics-reader"}}}
	for _, o := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	get := func(path, bearer string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d%s", apiPort, path), nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := httpc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"metrics without a token are refused", "/metrics", "", http.StatusUnauthorized},
		{"metrics for a token without the role are forbidden", "/metrics", stranger, http.StatusForbidden},
		{"metrics for a token with get /metrics are served", "/metrics", reader, http.StatusOK},
		{"the audit API without a token is refused", "/audit/v1/images", "", http.StatusUnauthorized},
		{"cluster-wide audit queries need get images", "/audit/v1/images", reader, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got int
			// Authorisation caches settle within a second; RBAC objects just created may lag.
			waitFor(t, 20*time.Second, tc.name, func() (bool, error) {
				got = get(tc.path, tc.token)
				return got == tc.want, nil
			})
		})
	}
}
