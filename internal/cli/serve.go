package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pruner"
	"github.com/pruneguard/pruneguard/webhook"
)

// Pruning modes of --pruning.
const (
	pruningOff        = "off"
	pruningContinuous = "continuous"
)

// serveOptions are the flags of "serve".
type serveOptions struct {
	kubeconfig              string
	dataDir                 string
	webhookPort             int
	certDir                 string
	metricsBindAddress      string
	healthProbeBindAddress  string
	leaderElect             bool
	leaderElectionID        string
	leaderElectionNamespace string
	lease                   server.LeaseTiming
	pendingTTL              time.Duration
	recordCache             string
	verbosity               int
	pruning                 string
	// The chart's self-managed certificate mode (without cert-manager).
	selfSignedCerts      bool
	metricsSecure        bool
	certSecret           string
	webhookConfiguration string
	webhookService       string
	// policy are the continuous pruner's flags; parsed so the chart's arguments are accepted.
	policy policyFlags
	// The continuous pruner's execution flags, those of `prune images`.
	confirm              bool
	numWorkers           int
	registryURL          string
	certificateAuthority string
	forceInsecure        bool
	fullRoundInterval    time.Duration
	// pruneInterval is --prune-interval, the deprecated name of --full-round-interval.
	pruneInterval time.Duration
}

// serveConfig is what validated serve flags resolve to.
type serveConfig struct {
	// Kubeconfig is --kubeconfig; runServe loads the REST config from it.
	Kubeconfig string
	Server     server.Options
	Verbosity  int
}

// serveFunc runs the server; tests replace it to check flag parsing without starting anything.
type serveFunc func(ctx context.Context, s Streams, c serveConfig) error

func newServeCommand(s Streams) *cobra.Command { return newServeCommandWith(s, runServe) }

func newServeCommandWith(s Streams, run serveFunc) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the webhook, the tracker and the continuous pruner",
		Long: `serve runs pruneguard in the cluster: the admission webhook that records image references as
objects are created and refuses references to images being pruned, the informers that keep the
reference index equal to the cluster, and, on the leader, the continuous pruner.

The index lives in --data-dir. With an index persisted there (a PVC), serve catches up with what
changed while it was down; without one it builds the index from a full list. /readyz on
--health-probe-bind-address turns ready once the index is in sync; /healthz answers as long as
the process runs. Metrics (pruneguard_*) are served at /metrics on --metrics-bind-address.

With --pruning=continuous, the leader prunes in passes and full rounds:

  A full round plans the whole policy from the local index, exactly as "prune images" would
  decide on the same state, and deletes the plan. The leader makes one when it starts (or
  takes over), then every --full-round-interval as a safety net for what no event announces
  (an invalid reference fixed).

  A pass plans only the candidates that something brought up: an index change (a referrer,
  an image, an image stream or a LimitRange written or deleted), an image, a stream item or
  a finished pod passing the --keep-younger-than cutoff, or a failed deletion whose retry is
  due (after 1 s, doubling up to 5 min). A pass reads only those candidates' entries, so an
  image is pruned within seconds of its last reference going, whatever the size of the
  cluster. At most 10 passes run per second, each deleting through one fence.

Every deletion goes through the fence (see the chart's README). Keep --keep-younger-than well
above the time a push takes: the registry creates an Image before the image stream item that
holds it, and an Image that no item holds and that is older than the cutoff is pruned at once,
which then refuses the push's tag ("being pruned"). oc's default of 60m leaves ample room.`,
		Example: `  # Outside a cluster, against the current kubeconfig, with certificates from cert-manager copied locally
  pruneguard serve --data-dir /var/lib/pruneguard --cert-dir ./tls

  # As the chart runs it
  pruneguard serve --data-dir=/var/lib/pruneguard --webhook-port=9443 --cert-dir=/etc/pruneguard/tls \
    --metrics-bind-address=:8080 --health-probe-bind-address=:8081 --leader-elect`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.validate(cmd)
			if err != nil {
				return err
			}
			return run(cmd.Context(), s, c)
		},
	}
	o.register(cmd)
	return cmd
}

func (o *serveOptions) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to a kubeconfig. Default: the in-cluster service account, then $KUBECONFIG or ~/.kube/config.")
	f.StringVar(&o.dataDir, "data-dir", "", "Directory of the reference index (Badger). Required. Keep it on a volume that survives restarts for a fast start.")
	f.IntVar(&o.webhookPort, "webhook-port", server.DefaultWebhookPort, "Port of the admission webhook (TLS).")
	f.StringVar(&o.certDir, "cert-dir", "", "Directory holding the webhook's tls.crt and tls.key; renewed files are picked up without a restart. Required.")
	f.StringVar(&o.metricsBindAddress, "metrics-bind-address", server.DefaultMetricsBindAddress, `Address of the metrics endpoint; "0" disables it.`)
	f.StringVar(&o.healthProbeBindAddress, "health-probe-bind-address", server.DefaultHealthProbeBindAddress, `Address of /healthz and /readyz; "0" disables them.`)
	f.BoolVar(&o.leaderElect, "leader-elect", false, "Run the pruner only on the replica holding a Lease; the webhook and the tracker run on every replica.")
	f.StringVar(&o.leaderElectionID, "leader-election-id", server.DefaultLeaderElectionID, "Name of the Lease.")
	f.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", os.Getenv("POD_NAMESPACE"), "Namespace of the Lease. Default: $POD_NAMESPACE, else the service account's namespace.")
	f.DurationVar(&o.lease.LeaseDuration, "leader-elect-lease-duration", server.DefaultLeaseDuration, "How long the other replicas wait after the leader last renewed the Lease before one of them takes it over (the longest a dead leader's pruner stays idle).")
	f.DurationVar(&o.lease.RenewDeadline, "leader-elect-renew-deadline", server.DefaultRenewDeadline, "How long the leader keeps failing to renew before it stops pruning; must be below --leader-elect-lease-duration.")
	f.DurationVar(&o.lease.RetryPeriod, "leader-elect-retry-period", server.DefaultRetryPeriod, "How often the leader renews the Lease and the other replicas try to acquire it.")
	f.DurationVar(&o.pendingTTL, "pending-ttl", webhook.DefaultPendingTTL, "How long a reference recorded at admission protects its image without the object appearing in a watch (another admission plugin may have refused it).")
	f.StringVar(&o.recordCache, "index-record-cache", defaultRecordCache, "Memory for the index's cache of object records (a Kubernetes quantity such as 32Mi; 0 disables it). An update of a cached object skips a read of the index: about a third of the CPU of a watch event that moves a pod's references. About 300 bytes an object; 32Mi holds ~110,000.")
	f.IntVarP(&o.verbosity, "verbosity", "v", 0, "Log verbosity: 0 logs what an operator acts on, 1 adds debugging detail, 2 adds Badger's.")
	f.StringVar(&o.pruning, "pruning", pruningOff, `Pruning mode: "off" (track references only) or "continuous" (prune on the leader).`)
	f.BoolVar(&o.metricsSecure, "metrics-secure", true, "Serve --metrics-bind-address over HTTPS with the audit API, authenticating callers (TokenReview) and authorising them (SubjectAccessReview); false serves plain-HTTP metrics only, for local runs.")
	f.BoolVar(&o.selfSignedCerts, "self-signed-certs", false, "Issue and rotate the webhook certificate without cert-manager.")
	f.StringVar(&o.certSecret, "cert-secret", "", "Secret of the self-signed webhook certificate.")
	f.StringVar(&o.webhookConfiguration, "webhook-configuration", "", "ValidatingWebhookConfiguration whose CA bundle the self-signed mode maintains.")
	f.StringVar(&o.webhookService, "webhook-service", "", "Service name the self-signed certificate is issued for.")
	o.policy.register(cmd)
	f.BoolVar(&o.confirm, "confirm", false, "With --pruning=continuous: delete; by default the pruner only logs what it would delete.")
	f.IntVar(&o.numWorkers, "num-workers", pruner.DefaultNumWorkers, "With --pruning=continuous: the number of parallel workers deleting.")
	f.StringVar(&o.registryURL, "registry-url", "", "With --pruning=continuous: the registry to delete from instead of the one found from the images.")
	f.StringVar(&o.certificateAuthority, "certificate-authority", "", "With --pruning=continuous: a CA bundle file to verify the registry's certificate with. Cannot be combined with --force-insecure.")
	f.DurationVar(&o.fullRoundInterval, "full-round-interval", pruner.DefaultFullRoundInterval, "With --pruning=continuous: the time between two full rounds, which plan the whole policy from the index as a safety net; passes between them prune what changes bring up within seconds.")
	f.DurationVar(&o.pruneInterval, "prune-interval", 0, "Deprecated name of --full-round-interval.")
	_ = f.MarkHidden("prune-interval") // deprecated: validate warns (cobra's own warning is never printed)
	f.BoolVar(&o.forceInsecure, "force-insecure", false, "With --pruning=continuous: allow plain HTTP or an unverified certificate for the registry.")
}

// validate checks the flags and resolves them (without loading the REST config, which the run
// function does, so that validation stays free of side effects).
func (o *serveOptions) validate(cmd *cobra.Command) (serveConfig, error) {
	switch {
	case o.dataDir == "":
		return serveConfig{}, errors.New("--data-dir is required: the directory of the reference index")
	case o.certDir == "" && !o.selfSignedCerts:
		return serveConfig{}, errors.New("--cert-dir is required: the directory holding the webhook's tls.crt and tls.key")
	case o.webhookPort <= 0 || o.webhookPort > 65535:
		return serveConfig{}, fmt.Errorf("invalid --webhook-port %d: want 1-65535", o.webhookPort)
	case o.pendingTTL <= 0:
		return serveConfig{}, fmt.Errorf("invalid --pending-ttl %s: want a positive duration such as 2m", o.pendingTTL)
	case o.certificateAuthority != "" && o.forceInsecure:
		return serveConfig{}, errors.New("--certificate-authority cannot be combined with --force-insecure: a CA bundle is only used to verify the registry")
	case cmd.Flags().Changed("prune-interval") && cmd.Flags().Changed("full-round-interval"):
		return serveConfig{}, errors.New("--prune-interval is the deprecated name of --full-round-interval: pass only --full-round-interval")
	case o.numWorkers < 1:
		return serveConfig{}, fmt.Errorf("invalid --num-workers %d: want at least 1", o.numWorkers)
	case o.leaderElect && o.lease.Validate() != nil:
		return serveConfig{}, fmt.Errorf("invalid --leader-elect-lease-duration, --leader-elect-renew-deadline or --leader-elect-retry-period: %w", o.lease.Validate())
	case o.pruning != pruningOff && o.pruning != pruningContinuous:
		return serveConfig{}, fmt.Errorf("invalid --pruning %q: want %q or %q", o.pruning, pruningOff, pruningContinuous)
	case o.pruning == pruningContinuous && o.leaderElectionNamespace == "":
		return serveConfig{}, errors.New("--pruning=continuous needs pruneguard's namespace, where the fence's probe pods are dry-run: set --leader-election-namespace or POD_NAMESPACE")
	case o.selfSignedCerts && (o.certSecret == "" || o.webhookService == ""):
		return serveConfig{}, errors.New("--self-signed-certs needs --cert-secret (the Secret that keeps the certificate) and --webhook-service (the Service it is issued for)")
	case o.selfSignedCerts && o.leaderElectionNamespace == "":
		return serveConfig{}, errors.New("--self-signed-certs needs the namespace of --cert-secret: set --leader-election-namespace or POD_NAMESPACE")
	}
	recordCache, err := parseRecordCache(o.recordCache)
	if err != nil {
		return serveConfig{}, err
	}
	var selfSigned *server.SelfSigned
	if o.selfSignedCerts {
		selfSigned = &server.SelfSigned{
			Namespace: o.leaderElectionNamespace, Secret: o.certSecret, Service: o.webhookService,
			WebhookConfiguration: o.webhookConfiguration,
		}
	}
	var pruning *server.Pruning
	if o.pruning == pruningContinuous {
		opts := o.policy.options(cmd)
		opts.Confirm, opts.NumWorkers = o.confirm, o.numWorkers
		opts.RegistryURL, opts.CertificateAuthority, opts.ForceInsecure = o.registryURL, o.certificateAuthority, o.forceInsecure
		if err := opts.Validate(); err != nil {
			return serveConfig{}, err
		}
		interval := o.fullRoundInterval
		if cmd.Flags().Changed("prune-interval") {
			interval = o.pruneInterval
			fmt.Fprintln(cmd.ErrOrStderr(), "Flag --prune-interval has been deprecated: use --full-round-interval. "+
				"Passes now prune what the index's changes bring up within seconds; the flag sets only the interval of full rounds.")
		}
		if interval <= 0 {
			return serveConfig{}, fmt.Errorf("invalid --full-round-interval %s: want a positive duration such as 10m", interval)
		}
		pruning = &server.Pruning{Options: opts, Namespace: o.leaderElectionNamespace, Service: o.webhookService, Interval: interval}
	}
	return serveConfig{Kubeconfig: o.kubeconfig, Verbosity: o.verbosity, Server: server.Options{
		Pruning:                 pruning,
		DataDir:                 o.dataDir,
		RecordCacheBytes:        recordCache,
		WebhookPort:             o.webhookPort,
		CertDir:                 o.certDir,
		SelfSigned:              selfSigned,
		MetricsInsecure:         !o.metricsSecure,
		Identity:                os.Getenv("POD_NAME"),
		MetricsBindAddress:      o.metricsBindAddress,
		HealthProbeBindAddress:  o.healthProbeBindAddress,
		LeaderElect:             o.leaderElect,
		LeaderElectionID:        o.leaderElectionID,
		LeaderElectionNamespace: o.leaderElectionNamespace,
		Lease:                   o.lease,
		PendingTTL:              o.pendingTTL,
	}}, nil
}

// runServe loads the configuration, sets up logging and runs the server until ctx is done.
func runServe(ctx context.Context, s Streams, c serveConfig) error {
	log := newLogger(s, c.Verbosity)
	// controller-runtime and client-go log through process-wide loggers; route them to ours.
	ctrllog.SetLogger(log)
	klog.SetLogger(log)
	cfg, err := server.LoadConfig(c.Kubeconfig)
	if err != nil {
		return err
	}
	o := c.Server
	o.Config, o.Logger = cfg, log
	if err := server.EnableFences(&o); err != nil {
		return err
	}
	srv, err := server.New(o)
	if err != nil {
		return err
	}
	log.Info("serving", "dataDir", o.DataDir, "webhookPort", o.WebhookPort, "index", srv.Index().Status().String())
	return srv.Run(ctx)
}

// newLogger returns a logger writing one JSON object per line to s.Err at the given verbosity.
func newLogger(s Streams, verbosity int) logr.Logger {
	var mu sync.Mutex
	return funcr.NewJSON(func(obj string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(s.Err, obj)
	}, funcr.Options{LogTimestamp: true, Verbosity: verbosity})
}

// defaultRecordCache is --index-record-cache's default, index.DefaultRecordCacheBytes as a
// quantity (TestServeIndexRecordCache checks that the two agree).
const defaultRecordCache = "32Mi"

// parseRecordCache turns --index-record-cache into server.Options.RecordCacheBytes: a size in
// bytes, or -1 for "0" (disabled).
func parseRecordCache(v string) (int64, error) {
	q, err := resource.ParseQuantity(v)
	if err != nil || q.Sign() < 0 {
		return 0, fmt.Errorf("invalid --index-record-cache %q: want a size such as 32Mi, or 0 to disable the cache", v)
	}
	if q.IsZero() {
		return -1, nil
	}
	return q.Value(), nil
}
