package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Registry is a distribution registry serving plain HTTP on a loopback port, with deletes
// enabled. Its blob descriptor cache is off, so a blob deleted and pushed again is served at
// once (the registry's in-memory cache would otherwise answer from stale state).
type Registry struct {
	// Host is "127.0.0.1:PORT", the registry part of pull specs.
	Host string
	// Dir holds the registry's storage and configuration.
	Dir string

	cmd  *exec.Cmd
	done chan error
}

// registryConfig is the distribution configuration; %s are the storage directory and address.
const registryConfig = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: pruneguard-testenv-only
`

// StartRegistry starts bin/registry with its storage under dir and waits until it answers.
func StartRegistry(ctx context.Context, dir string) (*Registry, error) {
	path, err := Tool("registry")
	if err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o755); err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(config, fmt.Appendf(nil, registryConfig, filepath.Join(dir, "storage"), addr), 0o644); err != nil {
		return nil, err
	}
	r := &Registry{Host: addr, Dir: dir, done: make(chan error, 1)}
	// The registry logs every 404 at error level, which is most of what a prune test asks; its
	// log goes to a file next to its storage instead of the test's output.
	logFile, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	r.cmd = exec.Command(path, "serve", config)
	r.cmd.Stdout = logFile
	r.cmd.Stderr = logFile
	// The registry must not outlive a test binary that dies without running its cleanups.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start the registry: %w", err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	if err := r.waitReady(ctx); err != nil {
		return nil, errors.Join(err, r.Stop())
	}
	return r, nil
}

// URL returns the registry's base URL.
func (r *Registry) URL() string { return "http://" + r.Host }

func (r *Registry) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.URL()+"/v2/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("the registry exited before it was ready: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("the registry at %s did not become ready: %w", r.Host, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop terminates the registry and waits for it to exit.
func (r *Registry) Stop() error {
	if r.cmd == nil || r.cmd.Process == nil {
		return nil
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	var exitErr error
	select {
	case exitErr = <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		exitErr = <-r.done
	}
	r.cmd = nil
	// A registry stopped by a signal always exits with an error status; only that it exited
	// matters here.
	_ = exitErr
	return nil
}

// freeLoopbackAddr returns a loopback address with a port that was free a moment ago.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("failed to find a free loopback port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// ManifestExists reports whether the registry serves repo@digest (repo is "NAMESPACE/NAME").
func (r *Registry) ManifestExists(ctx context.Context, repo, digest string) (bool, error) {
	code, err := r.do(ctx, http.MethodHead, "/v2/"+repo+"/manifests/"+digest,
		"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json")
	if err != nil {
		return false, err
	}
	switch code {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("HEAD manifest %s@%s: unexpected status %d", repo, digest, code)
}

// BlobExists reports whether the registry serves blob digest in repo.
func (r *Registry) BlobExists(ctx context.Context, repo, digest string) (bool, error) {
	code, err := r.do(ctx, http.MethodHead, "/v2/"+repo+"/blobs/"+digest, "")
	if err != nil {
		return false, err
	}
	return code == http.StatusOK, nil
}

func (r *Registry) do(ctx context.Context, method, path, accept string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.URL()+path, nil)
	if err != nil {
		return 0, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
