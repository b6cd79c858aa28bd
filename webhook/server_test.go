package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
)

func TestServerProtocols(t *testing.T) {
	for _, tc := range []struct {
		name  string
		http2 bool
		want  string
	}{
		{"by default a client offering HTTP/2 is answered over HTTP/1.1", false, "HTTP/1.1"},
		{"with HTTP2 set a client offering HTTP/2 gets it", true, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pool := writeServingCert(t, dir)
			m, err := NewMetrics(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			port := freePort(t)
			srv := NewServer(ServerOptions{Host: "127.0.0.1", Port: port, CertDir: dir, Path: "/validate", HTTP2: tc.http2},
				NewHandler(Options{Recorder: discardRecorder{}, Metrics: m, Logger: logr.Discard()}))
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); _ = srv.Start(ctx) }()
			t.Cleanup(func() { cancel(); wg.Wait() })

			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
			url := fmt.Sprintf("https://127.0.0.1:%d/validate", port)
			body := reviewOf(t, admissionv1.Create, pod("web", registry+"/shop/app:v1"), nil, false)
			var resp *http.Response
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if resp, err = client.Post(url, "application/json", bytes.NewReader(body)); err == nil || time.Now().After(deadline) {
					break
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Proto != tc.want {
				t.Errorf("status %d over %s, want 200 over %s", resp.StatusCode, resp.Proto, tc.want)
			}
		})
	}
}
