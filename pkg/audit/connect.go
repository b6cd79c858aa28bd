package audit

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Where the chart installs serve's API, the defaults of ConnectOptions: Service "pruneguard"
// in namespace "pruneguard" (release "pruneguard" installed there), port "https-api".
const (
	DefaultServiceNamespace = "pruneguard"
	DefaultServiceName      = "pruneguard"
	DefaultServicePort      = "https-api"
)

// ConnectOptions say how the CLI reaches a running serve.
type ConnectOptions struct {
	// Server is the API's base URL (https://HOST:PORT); empty means through the API server's
	// service proxy to Service ServiceName's port ServicePort in ServiceNamespace.
	Server string
	// Token is the bearer token; empty means the kubeconfig user's token.
	Token string
	// Kubeconfig is the kubeconfig file; empty means $KUBECONFIG, then ~/.kube/config.
	Kubeconfig string
	// CertificateAuthority and InsecureSkipTLSVerify set how Server's certificate is
	// checked (the service proxy uses the kubeconfig's TLS settings).
	CertificateAuthority  string
	InsecureSkipTLSVerify bool
	ServiceNamespace      string
	ServiceName           string
	ServicePort           string
}

// ErrNoToken is returned when neither a token nor a kubeconfig user's bearer token is there.
var ErrNoToken = errors.New("no bearer token")

// Connect returns a Client for o. With Server it connects directly, checking the server's
// certificate against CertificateAuthority (or the system roots). Without it, it reaches the
// Service through the API server of the kubeconfig's current context (the caller needs get on
// services/proxy for it); the API server drops the Authorization header of proxied requests,
// so the token travels in TokenHeader. Either way the audit API authenticates the token
// itself. A kubeconfig user without a bearer token (client certificates, exec plugins) needs
// Token: `kubectl create token` or `oc whoami -t` print one.
func Connect(o ConnectOptions) (*Client, error) {
	cfg, cfgErr := loadKubeconfig(o.Kubeconfig)
	token := o.Token
	if token == "" && cfgErr == nil {
		var err error
		if token, err = configToken(cfg); err != nil {
			return nil, err
		}
	}
	if token == "" {
		return nil, fmt.Errorf("%w: pass --token (e.g. $(kubectl create token NAME) or $(oc whoami -t)); the kubeconfig user has none", ErrNoToken)
	}
	if o.Server != "" {
		hc, err := directClient(o)
		if err != nil {
			return nil, err
		}
		return NewClient(ClientOptions{BaseURL: o.Server, Token: token, HTTPClient: hc}), nil
	}
	if cfgErr != nil {
		return nil, fmt.Errorf("no --server and no usable kubeconfig to find the pruneguard Service through (pass --server URL or --kubeconfig): %w", cfgErr)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to build a client for the API server %s: %w", cfg.Host, err)
	}
	ns, name, port := or(o.ServiceNamespace, DefaultServiceNamespace), or(o.ServiceName, DefaultServiceName), or(o.ServicePort, DefaultServicePort)
	return NewClient(ClientOptions{BaseURL: ServiceProxyURL(cfg.Host, ns, name, port), Token: token,
		ThroughProxy: true, HTTPClient: hc}), nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func loadKubeconfig(path string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("failed to load the kubeconfig: %w", err)
	}
	return cfg, nil
}

// configToken is the kubeconfig user's bearer token, from the file when one is named.
func configToken(cfg *rest.Config) (string, error) {
	if cfg.BearerToken != "" || cfg.BearerTokenFile == "" {
		return cfg.BearerToken, nil
	}
	data, err := os.ReadFile(cfg.BearerTokenFile)
	if err != nil {
		return "", fmt.Errorf("failed to read the kubeconfig's token file: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

func directClient(o ConnectOptions) (*http.Client, error) {
	if !strings.HasPrefix(o.Server, "https://") {
		return nil, fmt.Errorf("--server %q: the audit API is served over HTTPS only (a token must not travel in clear): %w", o.Server, ErrInvalidArgument)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case o.InsecureSkipTLSVerify && o.CertificateAuthority != "":
		return nil, fmt.Errorf("--certificate-authority and --insecure-skip-tls-verify exclude each other: %w", ErrInvalidArgument)
	case o.InsecureSkipTLSVerify:
		tc.InsecureSkipVerify = true //nolint:gosec // asked for explicitly with --insecure-skip-tls-verify
	case o.CertificateAuthority != "":
		pem, err := os.ReadFile(o.CertificateAuthority)
		if err != nil {
			return nil, fmt.Errorf("failed to read --certificate-authority: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--certificate-authority %s holds no PEM certificate: %w", o.CertificateAuthority, ErrInvalidArgument)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr}, nil
}
