package pruner

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Defaults of the flags, the same as oc adm prune images.
const (
	// DefaultKeepTagRevisions is oc's default number of revisions kept per tag.
	DefaultKeepTagRevisions = 3
	// DefaultKeepYoungerThan is oc's default minimum age of a prunable image and its referrers.
	DefaultKeepYoungerThan = 60 * time.Minute
	// DefaultNumWorkers is oc's default number of parallel deletion workers.
	DefaultNumWorkers = 5
)

// Options are the flags of `prune images`, with oc's names and defaults. KeepTagRevisions and
// KeepYoungerThan are pointers because oc distinguishes a flag left at its default from one
// given explicitly: --prune-over-size-limit may not be combined with either keep flag given
// explicitly, and replaces both when neither is.
type Options struct {
	// Confirm turns the dry run (the default) into real deletions.
	Confirm bool
	// KeepTagRevisions is nil unless --keep-tag-revisions was given.
	KeepTagRevisions *int
	// KeepYoungerThan is nil unless --keep-younger-than was given.
	KeepYoungerThan *time.Duration
	// PruneOverSizeLimit prunes the items whose image exceeds the namespace's
	// openshift.io/Image max.storage instead of applying the keep flags.
	PruneOverSizeLimit bool
	// AllImages is oc's --all: false keeps every Image not annotated as managed.
	AllImages bool
	// Namespace limits the prune to the streams of one namespace; no Image is deleted then.
	Namespace string
	// PruneRegistry false prunes API objects only: no layer link, manifest link or blob.
	PruneRegistry bool
	// RegistryURL overrides the registry address found from the images.
	RegistryURL string
	// CertificateAuthority is a CA bundle file for the registry connection.
	CertificateAuthority string
	// ForceInsecure allows plain HTTP or an unverified certificate for the registry.
	ForceInsecure bool
	// IgnoreInvalidRefs makes unparsable references protect nothing instead of aborting.
	IgnoreInvalidRefs bool
	// NumWorkers is the number of parallel deletion workers; below 1 means the default.
	NumWorkers int
}

// NewOptions returns the options of a prune with no flags given: oc's defaults.
func NewOptions() Options {
	return Options{AllImages: true, PruneRegistry: true, NumWorkers: DefaultNumWorkers}
}

// Validation errors, with oc's wording, so that scripts written for oc see the same messages.
var (
	// ErrOverSizeWithKeepFlags rejects --prune-over-size-limit combined with a keep flag.
	ErrOverSizeWithKeepFlags = errors.New("--prune-over-size-limit cannot be specified with --keep-tag-revisions nor --keep-younger-than")
	// ErrNegativeKeepYoungerThan rejects a negative --keep-younger-than.
	ErrNegativeKeepYoungerThan = errors.New("--keep-younger-than must be greater than or equal to 0")
	// ErrNegativeKeepTagRevisions rejects a negative --keep-tag-revisions.
	ErrNegativeKeepTagRevisions = errors.New("--keep-tag-revisions must be greater than or equal to 0")
	// ErrCAWithForceInsecure rejects --certificate-authority combined with --force-insecure.
	ErrCAWithForceInsecure = errors.New("--certificate-authority cannot be specified with --force-insecure")
	// ErrCAWithHTTP rejects --certificate-authority with an http:// registry URL. oc spells the
	// flag "--cerificate-authority" in this message; pruneguard names the flag correctly.
	ErrCAWithHTTP = errors.New("--certificate-authority cannot be specified for insecure http protocol")
)

// Validate checks the flags the way oc does, in oc's order, before any work starts.
func (o Options) Validate() error {
	if o.PruneOverSizeLimit && (o.KeepYoungerThan != nil || o.KeepTagRevisions != nil) {
		return ErrOverSizeWithKeepFlags
	}
	if o.KeepYoungerThan != nil && *o.KeepYoungerThan < 0 {
		return ErrNegativeKeepYoungerThan
	}
	if o.KeepTagRevisions != nil && *o.KeepTagRevisions < 0 {
		return ErrNegativeKeepTagRevisions
	}
	if o.RegistryURL != "" {
		if err := validateRegistryURL(o.RegistryURL); err != nil {
			return fmt.Errorf("invalid --registry-url flag: %w", err)
		}
	}
	if o.ForceInsecure && o.CertificateAuthority != "" {
		return ErrCAWithForceInsecure
	}
	if o.CertificateAuthority != "" && strings.HasPrefix(o.RegistryURL, "http://") {
		return ErrCAWithHTTP
	}
	return nil
}

// Workers returns the number of deletion workers, oc's default when NumWorkers is below 1.
func (o Options) Workers() int {
	if o.NumWorkers < 1 {
		return DefaultNumWorkers
	}
	return o.NumWorkers
}

// Policy returns the pruning policy of these options evaluated at now. In over-size mode the
// keep flags do not apply, and the age rules are evaluated with a cutoff of now (see Policy).
func (o Options) Policy(now time.Time) Policy {
	p := Policy{
		Now:                now,
		KeepTagRevisions:   DefaultKeepTagRevisions,
		KeepYoungerThan:    DefaultKeepYoungerThan,
		PruneOverSizeLimit: o.PruneOverSizeLimit,
		AllImages:          o.AllImages,
		Namespace:          o.Namespace,
		PruneRegistry:      o.PruneRegistry,
		IgnoreInvalidRefs:  o.IgnoreInvalidRefs,
	}
	if o.KeepTagRevisions != nil {
		p.KeepTagRevisions = *o.KeepTagRevisions
	}
	if o.KeepYoungerThan != nil {
		p.KeepYoungerThan = *o.KeepYoungerThan
	}
	if o.PruneOverSizeLimit {
		p.KeepTagRevisions = 0
		p.KeepYoungerThan = 0
	}
	return p
}

// Registry URL errors, worded as oc words them.
var (
	errRegistryURLPath  = errors.New("no path after <host>[:<port>] is allowed")
	errRegistryURLQuery = errors.New("no query arguments are allowed after <host>[:<port>]")
	errRegistryURLHost  = errors.New("no host name specified")
)

// validateRegistryURL accepts HOST[:PORT], optionally prefixed with http:// or https://, and
// nothing after the host but an optional "/".
func validateRegistryURL(registryURL string) error {
	raw := registryURL
	if !strings.Contains(registryURL, "://") {
		raw = "https://" + registryURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("unsupported scheme: %s", u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return errRegistryURLPath
	}
	if u.RawQuery != "" {
		return errRegistryURLQuery
	}
	if u.Host == "" {
		return errRegistryURLHost
	}
	return nil
}
