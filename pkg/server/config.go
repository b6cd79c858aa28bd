package server

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// LoadConfig returns the API server configuration: from kubeconfig when it is set; otherwise
// the in-cluster service account, and outside a cluster the usual kubeconfig ($KUBECONFIG,
// then ~/.kube/config). Errors say which source failed and how to choose one.
func LoadConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("failed to load --kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err == nil {
		return cfg, nil
	}
	if !errors.Is(err, rest.ErrNotInCluster) {
		return nil, fmt.Errorf("failed to load the in-cluster configuration: %w", err)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("not in a cluster and no usable kubeconfig (pass --kubeconfig or set KUBECONFIG): %w", err)
	}
	return cfg, nil
}

// Defaults of LeaseTiming: controller-runtime's, which tolerate an API server hiccup of
// several seconds without losing the Lease and hand it over within ~15 s when a leader dies.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// LeaseTiming is the timing of leader election (Options.Lease); a zero field means its
// default. Shorter times hand the Lease over sooner after a leader dies and cost more API
// requests; RenewDeadline must stay below LeaseDuration, and the gap between them is the
// margin that keeps a cut-off leader from leading while another already does.
type LeaseTiming struct {
	// LeaseDuration is how long candidates wait, after they last saw the Lease renewed,
	// before they take it over.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps failing to renew before it stops leading.
	RenewDeadline time.Duration
	// RetryPeriod is how often the leader renews and candidates try to acquire.
	RetryPeriod time.Duration
}
