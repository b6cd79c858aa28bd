package pruner

import (
	"context"
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/registry"
)

// serviceCAFile is where a pod finds the CA of the cluster's service certificates, which signs
// the integrated registry's certificate on OpenShift.
const serviceCAFile = "/var/run/secrets/kubernetes.io/serviceaccount/service-ca.crt"

// ConnectRegistry finds the registry (opts.RegistryURL, or as oc does from the images of r)
// and connects with the kubeconfig's bearer token and the CAs cfg trusts (plus, in a pod, the
// service CA). One-shot prunes and serve's continuous pruner both connect through it.
func ConnectRegistry(ctx context.Context, cfg *rest.Config, r model.Reader, opts Options, dialect registry.Dialect) (*registry.Client, error) {
	host, fromFlag := opts.RegistryURL, opts.RegistryURL != ""
	if host == "" {
		var err error
		if host, err = RegistryHost(ctx, r); err != nil {
			return nil, fmt.Errorf("unable to find the remote registry host: %w", err)
		}
	}
	token := cfg.BearerToken
	if token == "" && cfg.BearerTokenFile != "" {
		data, err := os.ReadFile(cfg.BearerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("failed to read the token file of the kubeconfig: %w", err)
		}
		token = strings.TrimSpace(string(data))
	}
	return registry.Connect(ctx, registry.Options{
		Host: host, HostFromFlag: fromFlag, Token: token, CAFile: opts.CertificateAuthority,
		CAData: trustedCAs(cfg), ForceInsecure: opts.ForceInsecure, InsecureKubeconfig: cfg.Insecure,
		Dialect: dialect,
	})
}

// trustedCAs are the kubeconfig's CA and, in a pod, the service CA.
func trustedCAs(cfg *rest.Config) [][]byte {
	var cas [][]byte
	if len(cfg.CAData) > 0 {
		cas = append(cas, cfg.CAData)
	}
	for _, f := range []string{cfg.CAFile, serviceCAFile} {
		if f == "" {
			continue
		}
		if data, err := os.ReadFile(f); err == nil {
			cas = append(cas, data)
		}
	}
	return cas
}
