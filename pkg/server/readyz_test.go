package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/server"
)

// probe GETs path on the health listener and returns the status and body; status 0 means
// the listener did not answer.
func probeHealth(addr, path string) (int, string) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHealthzPassesFromTheStartReadyzOnlyOnceInSync(t *testing.T) {
	p := startAPIProxy(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	srv := build(t, server.Options{Config: p.config(), WebhookPort: -1, HealthProbeBindAddress: addr})
	// The API server stops answering before serve runs, so the index cannot get in sync until
	// the test lets it.
	p.pause()
	run(t, srv)

	notReady := 0
	waitFor(t, 30*time.Second, "readyz to refuse three times while the API server is silent", func() (bool, error) {
		live, liveBody := probeHealth(addr, "/healthz")
		if live == 0 {
			return false, nil // not listening yet
		}
		if live != http.StatusOK {
			return false, fmt.Errorf("healthz %d before the index is in sync, want 200: %s", live, liveBody)
		}
		ready, body := probeHealth(addr, "/readyz?verbose=1")
		if ready == http.StatusOK {
			return false, fmt.Errorf("readyz 200 while the API server answers nothing: %s", body)
		}
		// controller-runtime's healthz answers a failed check with 500; a probe only asks
		// for a status outside 200–399.
		if ready < 400 || !strings.Contains(body, "[-]index-synced") {
			return false, fmt.Errorf("readyz %d %q, want a failure naming index-synced", ready, body)
		}
		notReady++
		return notReady >= 3, nil
	})
	if srv.Synced() {
		t.Fatal("server reports itself in sync while the API server answers nothing")
	}

	p.resume()
	waitFor(t, 2*time.Minute, "readyz to pass once the index is in sync", func() (bool, error) {
		ready, _ := probeHealth(addr, "/readyz")
		return ready == http.StatusOK, nil
	})
	if !srv.Synced() {
		t.Error("readyz passed but the server is not in sync")
	}
	if live, body := probeHealth(addr, "/healthz"); live != http.StatusOK {
		t.Errorf("healthz %d after sync, want 200: %s", live, body)
	}
	if ready, body := probeHealth(addr, "/readyz/index-synced"); ready != http.StatusOK {
		t.Errorf("readyz/index-synced %d after sync, want 200: %s", ready, body)
	}
}
