package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/certs"
	"github.com/pruneguard/pruneguard/pkg/fence"
	"github.com/pruneguard/pruneguard/pkg/scheme"
	"github.com/pruneguard/pruneguard/webhook"
)

// SelfSigned configures `--self-signed-certs`: pruneguard issues its own serving certificate,
// keeps it in a Secret shared by the replicas and puts its CA into the webhook configuration.
type SelfSigned struct {
	// Namespace and Secret name the Secret; Service is the Service the certificate is for.
	Namespace, Secret, Service string
	// WebhookConfiguration is the ValidatingWebhookConfiguration that gets the CA bundle.
	WebhookConfiguration string
	// IPs are extra addresses the certificate names (the demo's 127.0.0.1).
	IPs []net.IP
}

// certSource returns where the webhook and the API listener get their certificate: the
// self-signed keeper, or the files of CertDir watched for renewals (cert-manager's Secret).
func (s *Server) certSource(c client.Client) (func(*tls.ClientHelloInfo) (*tls.Certificate, error), func(context.Context) error, error) {
	o := s.o
	if o.SelfSigned != nil {
		id := certs.ServiceIdentity(o.SelfSigned.Service, o.SelfSigned.Namespace)
		id.IPs = o.SelfSigned.IPs
		k, err := certs.New(certs.Options{
			Client: c, Namespace: o.SelfSigned.Namespace, SecretName: o.SelfSigned.Secret,
			WebhookConfiguration: o.SelfSigned.WebhookConfiguration, Identity: id,
		})
		if err != nil {
			return nil, nil, err
		}
		s.keeper = k
		return k.GetCertificate, k.Run, nil
	}
	cw, err := certwatcher.New(filepath.Join(o.CertDir, webhook.CertName), filepath.Join(o.CertDir, webhook.KeyName))
	if err != nil {
		return nil, nil, fmt.Errorf("failed to load the serving certificate from --cert-dir %s: %w", o.CertDir, err)
	}
	return cw.GetCertificate, cw.Start, nil
}

// buildAPI constructs the audit API and the protected metrics handler served on
// MetricsBindAddress. With MetricsInsecure the listener is plain HTTP and serves metrics only,
// without authentication (for a local run; never in a cluster).
func (s *Server) buildAPI(c client.Client) error {
	trail, err := audit.OpenTrail(audit.TrailOptions{Dir: audit.TrailDir(s.o.DataDir), Logger: s.o.Logger.WithName("trail")})
	if err != nil {
		return err
	}
	s.trail = trail
	if s.Metrics, err = audit.NewMetrics(s.o.Registry); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(s.o.Config)
	if err != nil {
		return fmt.Errorf("failed to create a client for Events: %w", err)
	}
	s.events = events.NewBroadcaster(&events.EventSinkImpl{Interface: cs.EventsV1()})
	s.Recorder = audit.NewRecorder(audit.RecorderOptions{
		Trail: trail, Logger: s.o.Logger.WithName("audit"), Actor: s.o.Identity,
		Events: s.events.NewRecorder(scheme.New(), "pruneguard"),
	})
	if c, ok := s.o.Fence.(*fence.Checker); ok && c.OnDeny == nil {
		c.OnDeny = (&fence.DenialAuditor{Recorder: s.Recorder, Metrics: s.Metrics, Logger: s.o.Logger.WithName("fence")}).OnDeny
	}
	if s.o.MetricsInsecure {
		s.apiHandler = metricsHandler(s.o.Registry)
		return nil
	}
	authz := audit.NewKubeAuthorizer(c, audit.KubeAuthorizerOptions{})
	mux := http.NewServeMux()
	mux.Handle(audit.APIPrefix, audit.NewHandler(s.ix, authz, audit.HandlerOptions{Trail: trail, Logger: s.o.Logger.WithName("api")}))
	mux.Handle("/metrics", audit.Protect(authz, audit.MetricsAccess(), metricsHandler(s.o.Registry)))
	s.apiHandler = mux
	return nil
}

// newClient returns a controller-runtime client for the server's own API calls.
func newClient(o Options) (client.Client, error) {
	c, err := client.New(o.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		return nil, fmt.Errorf("failed to create an API client: %w", err)
	}
	return c, nil
}

// runFenceGauge keeps pruneguard_fences_active equal to the number of fences (tombstones
// included) this replica enforces, read every interval from the webhook's fence checker.
func (s *Server) runFenceGauge(ctx context.Context, interval time.Duration) error {
	c, ok := s.o.Fence.(*fence.Checker)
	if !ok || c.Source == nil {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.Metrics.SetFencesActive(c.Source.Fences().Len())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
