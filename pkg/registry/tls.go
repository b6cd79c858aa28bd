package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Timeouts of one registry connection. A registry that does not answer a delete within
// requestTimeout is counted as failed for that object; the prune goes on with the others.
const (
	dialTimeout    = 10 * time.Second
	requestTimeout = 60 * time.Second
)

// InsecureAllowed applies oc's rules: with --certificate-authority never; otherwise with
// --force-insecure, an http:// URL, a loopback or link-local host, or an insecure kubeconfig.
func (o Options) InsecureAllowed() bool {
	if o.CAFile != "" {
		return false
	}
	return o.ForceInsecure || o.InsecureKubeconfig || strings.HasPrefix(o.Host, "http://") ||
		isLocalOrLinkLocal(hostOf(o.Host))
}

// hostOf strips the scheme and port of HOST[:PORT] or SCHEME://HOST[:PORT].
func hostOf(address string) string {
	if i := strings.Index(address, "://"); i >= 0 {
		address = address[i+3:]
	}
	address = strings.TrimSuffix(address, "/")
	if h, _, err := net.SplitHostPort(address); err == nil {
		return h
	}
	return strings.Trim(address, "[]")
}

// isLocalOrLinkLocal reports whether host is localhost, a loopback or a link-local address.
func isLocalOrLinkLocal(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsLinkLocalUnicast())
}

// splitAddress returns the protocols to try, in order, and the host of the address.
func (o Options) splitAddress() (protocols []string, host string, err error) {
	raw := strings.TrimSuffix(o.Host, "/")
	if raw == "" {
		return nil, "", fmt.Errorf("no registry address: %w", ErrUnavailable)
	}
	scheme := ""
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme, raw = raw[:i], raw[i+3:]
	}
	u, err := url.Parse("//" + raw)
	if err != nil || u.Host == "" {
		return nil, "", fmt.Errorf("invalid registry address %q: %w", o.Host, err)
	}
	switch {
	case scheme == "http" || scheme == "https":
		return []string{scheme}, u.Host, nil
	case scheme != "":
		return nil, "", fmt.Errorf("invalid registry address %q: unsupported scheme %s", o.Host, scheme)
	case o.InsecureAllowed():
		return []string{"https", "http"}, u.Host, nil
	}
	return []string{"https"}, u.Host, nil
}

// httpClient builds the HTTP client: the system roots plus the CAs of Options, or no
// verification at all when insecure connections are allowed.
func (o Options) httpClient() (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.InsecureAllowed() {
		cfg.InsecureSkipVerify = true //nolint:gosec // oc's rules: only when the user allowed it
	} else {
		pool, err := o.rootCAs()
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	tr.DialContext = dialer.DialContext
	if o.dialAddr != "" {
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, o.dialAddr)
		}
	}
	tr.MaxIdleConnsPerHost = 32
	return &http.Client{Transport: tr, Timeout: requestTimeout}, nil
}

func (o Options) rootCAs() (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, data := range o.CAData {
		pool.AppendCertsFromPEM(data)
	}
	if o.CAFile == "" {
		return pool, nil
	}
	data, err := os.ReadFile(o.CAFile)
	if err != nil {
		return nil, fmt.Errorf("failed to read --certificate-authority: %w", err)
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--certificate-authority %s holds no PEM certificate", o.CAFile)
	}
	return pool, nil
}
