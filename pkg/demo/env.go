package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chart "github.com/pruneguard/pruneguard/charts/pruneguard"
	"github.com/pruneguard/pruneguard/pkg/certs"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// Names of what the demo installs, as the chart would in a cluster.
const (
	namespace  = "pruneguard"
	secretName = "pruneguard-tls"
	service    = "pruneguard"
)

// stack is everything the demo runs: the control plane, the registry and serve.
type stack struct {
	env    *testenv.Env
	dir    string
	srv    *server.Server
	apiURL string
	// webhookPort is where the registered webhook configuration sends reviews.
	webhookPort int
	token       string
	caFile      string
	stopEnv     func() error
	stopSrv     func() error
	registry    *prometheus.Registry
	// paused is the continuous pruner's pause switch, for the dry run before it deletes.
	paused atomic.Bool
}

// startStack brings up the environment and serve, with the chart's webhook registered.
func startStack(ctx context.Context, log logr.Logger) (*stack, error) {
	s := &stack{}
	var err error
	if s.dir, err = os.MkdirTemp("", "pruneguard-demo-"); err != nil {
		return nil, err
	}
	if err := chart.Write(filepath.Join(s.dir, "chart")); err != nil {
		return nil, err
	}
	s.env, s.stopEnv, err = testenv.Start(ctx, testenv.Options{Registry: true, CRDPaths: []string{filepath.Join(s.dir, "chart", "crds")}})
	if err != nil {
		return nil, err
	}
	if err := s.install(ctx); err != nil {
		return s, err
	}
	return s, s.startServe(ctx, log)
}

// install creates the namespace, the webhook configuration from the chart (pointed at
// 127.0.0.1) and an admin token for the CLI.
func (s *stack) install(ctx context.Context) error {
	c := s.env.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return err
	}
	helm, err := testenv.Tool("helm")
	if err != nil {
		return err
	}
	vwc, err := chart.WebhookConfiguration(ctx, chart.Options{Helm: helm, Namespace: namespace})
	if err != nil {
		return err
	}
	if s.webhookPort, err = freePort(); err != nil {
		return err
	}
	vwc = chart.PointAt(vwc, fmt.Sprintf("https://127.0.0.1:%d", s.webhookPort), nil)
	if err := c.Create(ctx, vwc); err != nil {
		return fmt.Errorf("failed to register the webhook configuration: %w", err)
	}
	return s.adminToken(ctx)
}

func (s *stack) adminToken(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(s.env.Config)
	if err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "demo-admin"}}
	if _, err := cs.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		return err
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pruneguard-demo-admin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: sa.Name}},
	}
	if err := s.env.Client.Create(ctx, binding); err != nil {
		return err
	}
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	s.token = tr.Status.Token
	return nil
}

// startServe runs serve in-process with a self-signed certificate and continuous pruning.
func (s *stack) startServe(ctx context.Context, log logr.Logger) error {
	apiPort, err := freePort()
	if err != nil {
		return err
	}
	s.registry = prometheus.NewRegistry()
	o := server.Options{
		Config: s.env.Config, DataDir: filepath.Join(s.dir, "data"),
		WebhookHost: "127.0.0.1", WebhookPort: s.webhookPort,
		SelfSigned: &server.SelfSigned{
			Namespace: namespace, Secret: secretName, Service: service,
			WebhookConfiguration: chart.DefaultReleaseName, IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
		},
		MetricsBindAddress: fmt.Sprintf("127.0.0.1:%d", apiPort), HealthProbeBindAddress: server.Disabled,
		Registry: s.registry, Logger: log, Identity: "demo-replica", StatsInterval: time.Second,
	}
	// Paused until the demo has seeded the cluster (Run lets it go).
	s.paused.Store(true)
	if err := configurePruning(&o, s); err != nil {
		return err
	}
	if s.srv, err = server.New(o); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.srv.Run(runCtx) }()
	s.stopSrv = func() error { cancel(); return <-done }
	s.apiURL = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	if err := waitUntil(ctx, 3*time.Minute, "serve to be in sync", func() (bool, error) {
		select {
		case err := <-done:
			done <- err
			return false, fmt.Errorf("serve stopped: %w", err)
		default:
		}
		return s.srv.Synced(), nil
	}); err != nil {
		return err
	}
	return s.writeCA(ctx)
}

// writeCA saves the self-signed CA for the CLI's --certificate-authority.
func (s *stack) writeCA(ctx context.Context) error {
	secret := &corev1.Secret{}
	err := waitUntil(ctx, time.Minute, "the self-signed certificate", func() (bool, error) {
		err := s.env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: secretName}, secret)
		return err == nil && len(secret.Data[certs.KeyCABundle]) > 0, nil
	})
	if err != nil {
		return err
	}
	s.caFile = filepath.Join(s.dir, "ca.crt")
	return os.WriteFile(s.caFile, secret.Data[certs.KeyCABundle], 0o600)
}

// stop stops serve and the environment and removes the demo's files.
func (s *stack) stop() error {
	var errs []error
	if s.stopSrv != nil {
		errs = append(errs, s.stopSrv())
	}
	if s.stopEnv != nil {
		errs = append(errs, s.stopEnv())
	}
	errs = append(errs, os.RemoveAll(s.dir))
	return errors.Join(errs...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitUntil polls cond every 100 ms until it holds, fails, or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitIndexed waits until serve's index has the seeded cluster: the Deployment that uses the
// oldest web image, and every seeded stream item. The steps read the index, and the pruner,
// let go once this returns, must see the stream items that hold the seeded images (an Image
// indexed without its stream item is one that no stream holds, and so prunable).
func (s *stack) waitIndexed(ctx context.Context, cl *cluster) error {
	items := map[[2]string]int{{"shop", "web"}: len(cl.web), {"shop", "api"}: 2, {"tools", "web-mirror"}: 1}
	return waitUntil(ctx, time.Minute, "the seeded cluster in the index", func() (bool, error) {
		for key, want := range items {
			st, ok, err := s.srv.Index().Stream(ctx, key[0], key[1])
			if err != nil || !ok || countItems(st) < want {
				return false, err
			}
		}
		refs, err := s.srv.Index().ReferrersOfDigest(ctx, "", cl.web[3].Digest)
		for _, r := range refs {
			if r.Object.Kind == "Deployment" && !r.Pending {
				return true, nil
			}
		}
		return false, err
	})
}

func countItems(st model.Stream) int {
	n := 0
	for _, t := range st.Tags {
		n += len(t.Items)
	}
	return n
}

// httpClient trusts the self-signed CA of serve.
func (s *stack) httpClient() *http.Client {
	pool := x509.NewCertPool()
	if data, err := os.ReadFile(s.caFile); err == nil {
		pool.AppendCertsFromPEM(data)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}
