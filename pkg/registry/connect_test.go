package registry

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInsecureAllowed(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want bool
	}{
		{"a remote host needs a verified HTTPS connection", Options{Host: "registry.example.org"}, false},
		{"--force-insecure allows an insecure connection", Options{Host: "registry.example.org", ForceInsecure: true}, true},
		{"an http:// URL allows an insecure connection", Options{Host: "http://registry.example.org"}, true},
		{"localhost allows an insecure connection", Options{Host: "localhost:5000"}, true},
		{"a loopback address allows an insecure connection", Options{Host: "127.0.0.1:5000"}, true},
		{"an IPv6 link-local address allows an insecure connection", Options{Host: "[fe80::1]:5000"}, true},
		{"a private but routable address does not (DESIGN: localhost or link-local only)", Options{Host: "10.0.0.1:5000"}, false},
		{"an insecure kubeconfig allows an insecure connection", Options{Host: "registry.example.org", InsecureKubeconfig: true}, true},
		{"--certificate-authority never allows an insecure connection", Options{Host: "127.0.0.1:5000", CAFile: "ca.pem"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.o.InsecureAllowed(); got != tt.want {
				t.Errorf("InsecureAllowed() = %v, want %v", got, tt.want)
			}
		})
	}
}

// serverAddr returns the loopback address a test server listens on.
func serverAddr(srv *httptest.Server) string { return srv.Listener.Addr().String() }

func TestConnectErrorsNameTheFix(t *testing.T) {
	plain := httptest.NewServer(&fakeRegistry{})
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(&fakeRegistry{})
	defer tlsSrv.Close()
	unauthorized := httptest.NewServer(&fakeRegistry{ping: http.StatusUnauthorized})
	defer unauthorized.Close()
	closed := closedAddr(t)

	tests := []struct {
		name string
		o    Options
		hint string
	}{
		{"HTTPS against a plain HTTP registry suggests --force-insecure",
			Options{Host: "registry.example.org:5000", dialAddr: serverAddr(plain)}, "--force-insecure"},
		{"a certificate of an unknown authority suggests --certificate-authority",
			Options{Host: "example.com:443", dialAddr: serverAddr(tlsSrv)}, "--certificate-authority"},
		{"HTTP against a TLS registry asks whether TLS is meant",
			Options{Host: "http://" + serverAddr(tlsSrv)}, "without TLS"},
		{"an unreachable detected registry asks for --registry-url",
			Options{Host: closed}, "Please provide a reachable route to the integrated registry using --registry-url"},
		{"an unreachable --registry-url says to check it",
			Options{Host: closed, HostFromFlag: true}, "address given with --registry-url"},
		{"a registry refusing the credentials says how to log in with a token",
			Options{Host: unauthorized.URL}, "oc login --token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Connect(context.Background(), tt.o)
			if err == nil {
				t.Fatal("Connect succeeded, want an error")
			}
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("error %v does not match ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("error %q does not contain the hint %q", err, tt.hint)
			}
		})
	}
}

func TestCertificateAuthorityIsTrusted(t *testing.T) {
	srv := httptest.NewTLSServer(&fakeRegistry{})
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Connect(context.Background(), Options{Host: "example.com:443", dialAddr: serverAddr(srv), CAFile: ca})
	if err != nil {
		t.Fatalf("Connect with the server's CA: %v", err)
	}
	if !strings.HasPrefix(c.URL(), "https://") {
		t.Errorf("URL = %s, want https", c.URL())
	}
	c, err = Connect(context.Background(), Options{Host: "example.com:443", dialAddr: serverAddr(srv), CAData: [][]byte{pemData}})
	if err != nil {
		t.Fatalf("Connect with the CA as extra data (kubeconfig CA): %v", err)
	}
	if c.Dialect() != DialectDistribution {
		t.Errorf("dialect = %s, want distribution", c.Dialect())
	}
}

func TestLoopbackFallsBackToHTTP(t *testing.T) {
	srv := httptest.NewServer(&fakeRegistry{})
	defer srv.Close()
	c, err := Connect(context.Background(), Options{Host: serverAddr(srv)})
	if err != nil {
		t.Fatal(err)
	}
	if c.URL() != "http://"+serverAddr(srv) {
		t.Errorf("URL = %s, want the HTTP fallback", c.URL())
	}
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
