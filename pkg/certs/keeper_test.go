package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/testenv"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

type fixture struct {
	env   *testenv.Env
	ns    string
	clock *clock
}

func newFixture(t *testing.T, env *testenv.Env, ns string) *fixture {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	url := "https://127.0.0.1:1/validate"
	none := admissionregistrationv1.SideEffectClassNone
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "refs.pruneguard.io", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url},
			SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if err := env.Client.Create(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	return &fixture{env: env, ns: ns, clock: &clock{now: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}}
}

func (f *fixture) keeper(t *testing.T) *Keeper {
	t.Helper()
	k, err := New(Options{
		Client: f.env.Client, Namespace: f.ns, SecretName: "tls", WebhookConfiguration: f.ns,
		Identity: Identity{DNSNames: []string{"pruneguard." + f.ns + ".svc"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}},
		Now:      f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Ensure(context.Background()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return k
}

func (f *fixture) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := f.env.Client.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "tls"}, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) caBundle(t *testing.T) []byte {
	t.Helper()
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := f.env.Client.Get(context.Background(), client.ObjectKey{Name: f.ns}, vwc); err != nil {
		t.Fatal(err)
	}
	return vwc.Webhooks[0].ClientConfig.CABundle
}

// handshake serves k's certificate on loopback and connects trusting only caBundle.
func handshake(t *testing.T, k *Keeper, caBundle []byte, now func() time.Time) error {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: k.GetCertificate, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caBundle) {
		t.Fatal("the CA bundle holds no certificate")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, Time: now}}, Timeout: 5 * time.Second}
	resp, err := c.Get("https://" + l.Addr().String())
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func TestKeeper(t *testing.T) {
	env := testenv.StartT(t, testenv.Options{})

	t.Run("an empty Secret gets a CA and a serving certificate that API servers can verify", func(t *testing.T) {
		f := newFixture(t, env, "issue")
		k := f.keeper(t)
		s := f.secret(t)
		for _, key := range []string{KeyCert, KeyKey, KeyCABundle, KeyCACert, KeyCAKey} {
			if len(s.Data[key]) == 0 {
				t.Errorf("Secret lacks %s", key)
			}
		}
		if !bytes.Equal(f.caBundle(t), s.Data[KeyCABundle]) {
			t.Error("the webhook configuration's CA bundle differs from the Secret's")
		}
		if err := handshake(t, k, f.caBundle(t), f.clock.Now); err != nil {
			t.Errorf("TLS with the injected CA bundle: %v", err)
		}
	})

	t.Run("a second replica serves what the first one wrote", func(t *testing.T) {
		f := newFixture(t, env, "replicas")
		first := f.keeper(t)
		before := f.secret(t)
		second := f.keeper(t)
		after := f.secret(t)
		if before.ResourceVersion != after.ResourceVersion {
			t.Error("the second replica rewrote a valid Secret")
		}
		c1, _ := first.GetCertificate(nil)
		c2, _ := second.GetCertificate(nil)
		if !bytes.Equal(c1.Certificate[0], c2.Certificate[0]) {
			t.Error("the replicas serve different certificates")
		}
	})

	t.Run("the serving certificate is renewed when a third of its lifetime is left, under the same CA", func(t *testing.T) {
		f := newFixture(t, env, "renew")
		f.keeper(t)
		old := f.secret(t)
		f.clock.now = f.clock.now.Add(DefaultServingLifetime * 2 / 3).Add(time.Hour)
		k := f.keeper(t)
		renewed := f.secret(t)
		if bytes.Equal(old.Data[KeyCert], renewed.Data[KeyCert]) {
			t.Fatal("the serving certificate was not renewed")
		}
		if !bytes.Equal(old.Data[KeyCACert], renewed.Data[KeyCACert]) {
			t.Error("renewing the serving certificate replaced the CA")
		}
		if err := handshake(t, k, f.caBundle(t), f.clock.Now); err != nil {
			t.Errorf("TLS after renewal: %v", err)
		}
	})

	t.Run("a CA near its end is replaced and the bundle trusts old and new until the switch is over", func(t *testing.T) {
		f := newFixture(t, env, "rotate")
		oldKeeper := f.keeper(t)
		old := f.secret(t)
		// Keep the keeper's rhythm (it checks every minute; here every 20 days) until the CA
		// is replaced, remembering the last replica state under the old CA.
		var rotated *corev1.Secret
		for step := 0; step < 200 && rotated == nil; step++ {
			f.clock.now = f.clock.now.Add(20 * 24 * time.Hour)
			k := f.keeper(t)
			if s := f.secret(t); !bytes.Equal(s.Data[KeyCACert], old.Data[KeyCACert]) {
				rotated = s
			} else {
				oldKeeper = k
			}
		}
		if rotated == nil {
			t.Fatal("the CA was never replaced")
		}
		if got := f.clock.now.Sub(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)); got > DefaultCALifetime {
			t.Fatalf("the CA was replaced only after it expired (%v)", got)
		}
		bundle := f.caBundle(t)
		if !bytes.Contains(bundle, bytes.TrimSpace(old.Data[KeyCACert])) || !bytes.Contains(bundle, bytes.TrimSpace(rotated.Data[KeyCACert])) {
			t.Error("the CA bundle does not hold both CAs during the rotation")
		}
		// A replica still serving the old certificate stays trusted.
		if err := handshake(t, oldKeeper, bundle, f.clock.Now); err != nil {
			t.Errorf("TLS with the old serving certificate and the rotated bundle: %v", err)
		}
	})

	t.Run("a corrupt Secret is reissued rather than served", func(t *testing.T) {
		f := newFixture(t, env, "corrupt")
		f.keeper(t)
		s := f.secret(t)
		s.Data[KeyCert] = []byte("garbage")
		if err := env.Client.Update(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		k := f.keeper(t)
		if bytes.Equal(f.secret(t).Data[KeyCert], []byte("garbage")) {
			t.Fatal("the corrupt certificate was kept")
		}
		if err := handshake(t, k, f.caBundle(t), f.clock.Now); err != nil {
			t.Errorf("TLS after reissue: %v", err)
		}
	})

	t.Run("a CA bundle reset by helm upgrade is put back", func(t *testing.T) {
		f := newFixture(t, env, "reset")
		k := f.keeper(t)
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: f.ns}, vwc); err != nil {
			t.Fatal(err)
		}
		vwc.Webhooks[0].ClientConfig.CABundle = nil
		if err := env.Client.Update(context.Background(), vwc); err != nil {
			t.Fatal(err)
		}
		if err := k.Ensure(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.caBundle(t), k.CABundle()) {
			t.Error("the CA bundle was not restored")
		}
	})
}

func TestNewRejectsIncompleteOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"a missing Secret name names the flag", Options{Client: fakeClient{}, Namespace: "ns", Identity: ServiceIdentity("s", "ns")}, "--cert-secret"},
		{"a missing identity names the service flag", Options{Client: fakeClient{}, Namespace: "ns", SecretName: "tls"}, "--webhook-service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() error = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestGetCertificateBeforeEnsure(t *testing.T) {
	k, err := New(Options{Client: fakeClient{}, Namespace: "ns", SecretName: "tls", Identity: ServiceIdentity("s", "ns")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.GetCertificate(nil); err == nil {
		t.Error("GetCertificate served something before the first Ensure")
	}
}

// fakeClient only satisfies the type for option checks; it is never called.
type fakeClient struct{ client.Client }
