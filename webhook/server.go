package webhook

import (
	"crypto/tls"
	"net/http"

	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Certificate file names in the certificate directory: what cert-manager's Secret and
// envtest's serving directory both hold.
const (
	CertName = "tls.crt"
	KeyName  = "tls.key"
)

// ServerOptions say where the TLS server listens and where its certificate is.
type ServerOptions struct {
	// Host is the address to listen on; "" means all interfaces.
	Host string
	// Port is the TLS port.
	Port int
	// CertDir holds tls.crt and tls.key. They are watched: a renewed certificate (cert-manager
	// rotates it before expiry) is served from the next handshake on, without a restart.
	// Unused when GetCertificate is set.
	CertDir string
	// GetCertificate, when set, supplies the certificate of every handshake (the self-signed
	// keeper, or a watcher shared with the audit API's listener).
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Path is the handler's HTTP path (the chart's webhook rules file names it).
	Path string
	// HTTP2 offers HTTP/2 besides HTTP/1.1. Off by default, as kubebuilder scaffolds and
	// controller-runtime recommends for webhooks: HTTP/2 exposes the server to stream-reset
	// floods (CVE-2023-44487), and it buys a webhook nothing, since the API server keeps a
	// pool of idle HTTP/1.1 keep-alive connections to it (up to 25 per host), so a review
	// pays no handshake either way.
	HTTP2 bool
}

// NewServer returns controller-runtime's webhook server serving h at o.Path. It is started by
// its Start(ctx) and stops when ctx is done; StartedChecker() is a readiness check that passes
// once it accepts TLS connections.
func NewServer(o ServerOptions, h http.Handler) ctrlwebhook.Server {
	srv := ctrlwebhook.NewServer(ctrlwebhook.Options{
		Host:     o.Host,
		Port:     o.Port,
		CertDir:  o.CertDir,
		CertName: CertName,
		KeyName:  KeyName,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			c.MinVersion = tls.VersionTLS12
			if !o.HTTP2 {
				c.NextProtos = []string{"http/1.1"}
			}
			if o.GetCertificate != nil {
				c.GetCertificate = o.GetCertificate
			}
		}},
	})
	srv.Register(o.Path, h)
	return srv
}
