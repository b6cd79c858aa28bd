package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Keys of the Secret. tls.crt, tls.key and ca.crt are the names cert-manager uses, so the
// chart's ServiceMonitor reads the CA from the same key in both modes.
const (
	KeyCert     = corev1.TLSCertKey
	KeyKey      = corev1.TLSPrivateKeyKey
	KeyCABundle = "ca.crt"
	KeyCACert   = "ca-only.crt"
	KeyCAKey    = "ca.key"
)

// ErrNoCertificate is returned by GetCertificate before the first successful Ensure.
var ErrNoCertificate = errors.New("the self-signed serving certificate is not issued yet")

// Options configure a Keeper.
type Options struct {
	Client client.Client
	// Namespace and SecretName name the Secret that holds the CA and the serving certificate.
	Namespace, SecretName string
	// WebhookConfiguration is the ValidatingWebhookConfiguration whose webhooks get the CA
	// bundle; empty means none.
	WebhookConfiguration string
	// Identity is what the serving certificate names.
	Identity Identity
	// Lifetimes; zero means the defaults.
	CALifetime, ServingLifetime time.Duration
	// Interval between checks of the Secret and the webhook configuration (default 1m).
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Keeper issues, stores, serves and rotates the self-signed webhook certificate.
type Keeper struct {
	o      Options
	bundle atomic.Pointer[Bundle]
	cert   atomic.Pointer[tls.Certificate]
}

// New checks o and returns a Keeper; nothing is read or written until Ensure or Run.
func New(o Options) (*Keeper, error) {
	switch {
	case o.Client == nil:
		return nil, errors.New("certs: a client is required")
	case o.Namespace == "" || o.SecretName == "":
		return nil, errors.New("certs: --cert-secret and the namespace of the Secret are required with --self-signed-certs")
	case len(o.Identity.DNSNames) == 0 && len(o.Identity.IPs) == 0:
		return nil, errors.New("certs: --webhook-service is required with --self-signed-certs")
	}
	if o.CALifetime == 0 {
		o.CALifetime = DefaultCALifetime
	}
	if o.ServingLifetime == 0 {
		o.ServingLifetime = DefaultServingLifetime
	}
	if o.Interval == 0 {
		o.Interval = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Keeper{o: o}, nil
}

// GetCertificate serves the current certificate; it is a tls.Config.GetCertificate.
func (k *Keeper) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := k.cert.Load(); c != nil {
		return c, nil
	}
	return nil, ErrNoCertificate
}

// CABundle returns the CA bundle API servers must trust, or nil before the first Ensure.
func (k *Keeper) CABundle() []byte {
	if b := k.bundle.Load(); b != nil {
		return b.CABundle
	}
	return nil
}

// Run ensures the certificate now and then at every interval until ctx is done. A failed round
// is logged and retried at the next interval; only a failure of the very first round is
// returned, since then there is nothing to serve.
func (k *Keeper) Run(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx).WithName("certs")
	if err := k.Ensure(ctx); err != nil {
		return err
	}
	t := time.NewTicker(k.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := k.Ensure(ctx); err != nil {
				log.Error(err, "failed to keep the self-signed webhook certificate; retrying", "secret", k.o.SecretName)
			}
		}
	}
}

// Ensure makes the Secret hold a valid, unexpiring bundle (issuing one if needed), serves it,
// and puts its CA bundle into the webhook configuration.
func (k *Keeper) Ensure(ctx context.Context) error {
	var b *Bundle
	for attempt := 0; ; attempt++ {
		var err error
		b, err = k.ensureSecret(ctx)
		if err == nil {
			break
		}
		if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) || attempt == 4 {
			return err
		}
		// Another replica wrote the Secret first: read what it wrote.
	}
	cert, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		return fmt.Errorf("failed to load the serving certificate of Secret %s/%s: %w", k.o.Namespace, k.o.SecretName, err)
	}
	k.bundle.Store(b)
	k.cert.Store(&cert)
	return k.injectCABundle(ctx, b.CABundle)
}

func (k *Keeper) ensureSecret(ctx context.Context) (*Bundle, error) {
	now := k.o.Now()
	key := client.ObjectKey{Namespace: k.o.Namespace, Name: k.o.SecretName}
	secret := &corev1.Secret{}
	err := k.o.Client.Get(ctx, key, secret)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("failed to read Secret %s: %w", key, err)
	}
	d := secret.Data
	existing, parseErr := parseBundle(d[KeyCACert], d[KeyCAKey], d[KeyCABundle], d[KeyCert], d[KeyKey], now)
	if parseErr == nil && !k.renewCA(existing, now) && !k.renewServing(existing, now) {
		return existing, nil
	}
	b, err := k.issue(caOf(d, existing, now), now)
	if err != nil {
		return nil, err
	}
	secret.Data = map[string][]byte{KeyCert: b.Cert, KeyKey: b.Key, KeyCABundle: b.CABundle, KeyCACert: b.CACert, KeyCAKey: b.CAKey}
	if exists {
		err = k.o.Client.Update(ctx, secret)
	} else {
		secret.ObjectMeta = metav1.ObjectMeta{Namespace: k.o.Namespace, Name: k.o.SecretName}
		secret.Type = corev1.SecretTypeOpaque
		err = k.o.Client.Create(ctx, secret)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to write Secret %s: %w", key, err)
	}
	return b, nil
}

func (k *Keeper) renewCA(b *Bundle, now time.Time) bool {
	return b.ca.NotAfter.Sub(now) < 2*k.o.ServingLifetime
}

// caOf returns the CA of the Secret when it is usable at now, even if the serving certificate
// is not (expired, or issued for another name): a good CA is kept, so the bundle API servers
// trust does not change without need.
func caOf(d map[string][]byte, existing *Bundle, now time.Time) *Bundle {
	if existing != nil {
		return existing
	}
	ca, err := parseCert(d[KeyCACert])
	if err != nil || !ca.IsCA || now.After(ca.NotAfter) {
		return nil
	}
	key, err := parseKey(d[KeyCAKey])
	if err != nil {
		return nil
	}
	return &Bundle{ca: ca, caKey: key}
}

func (k *Keeper) renewServing(b *Bundle, now time.Time) bool {
	return b.serving.NotAfter.Sub(now) < k.o.ServingLifetime/3 || !b.covers(k.o.Identity)
}

// issue returns a new bundle: a new serving certificate, signed by the existing CA unless the
// CA is missing or due for renewal; a replaced CA stays in the bundle.
func (k *Keeper) issue(existing *Bundle, now time.Time) (*Bundle, error) {
	b := &Bundle{}
	var previous *Bundle
	if existing != nil && !k.renewCA(existing, now) {
		b.ca, b.caKey = existing.ca, existing.caKey
	} else {
		previous = existing
		var err error
		if b.ca, b.caKey, err = newCA(now, k.o.CALifetime); err != nil {
			return nil, fmt.Errorf("failed to issue the webhook CA: %w", err)
		}
	}
	var err error
	if b.serving, b.srvKey, err = newServing(now, k.o.ServingLifetime, k.o.Identity, b.ca, b.caKey); err != nil {
		return nil, fmt.Errorf("failed to issue the webhook serving certificate: %w", err)
	}
	if previous != nil {
		err = b.encode(previous.ca)
	} else {
		err = b.encode(nil)
	}
	return b, err
}

// injectCABundle sets caBundle on every webhook of the configuration that lacks it.
func (k *Keeper) injectCABundle(ctx context.Context, caBundle []byte) error {
	if k.o.WebhookConfiguration == "" {
		return nil
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := k.o.Client.Get(ctx, client.ObjectKey{Name: k.o.WebhookConfiguration}, vwc); err != nil {
		return fmt.Errorf("failed to read ValidatingWebhookConfiguration %s: %w", k.o.WebhookConfiguration, err)
	}
	changed := false
	for i := range vwc.Webhooks {
		if !bytes.Equal(vwc.Webhooks[i].ClientConfig.CABundle, caBundle) {
			vwc.Webhooks[i].ClientConfig.CABundle = caBundle
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := k.o.Client.Update(ctx, vwc); err != nil {
		return fmt.Errorf("failed to put the CA bundle into ValidatingWebhookConfiguration %s: %w", k.o.WebhookConfiguration, err)
	}
	return nil
}
