package pruner_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pruner"
)

func TestOptionsValidate(t *testing.T) {
	n, d, neg, negD := 1, time.Minute, -1, -time.Minute
	tests := []struct {
		name    string
		mutate  func(*pruner.Options)
		wantErr error
		wantMsg string
	}{
		{"the defaults are valid", func(*pruner.Options) {}, nil, ""},
		{"--prune-over-size-limit alone is valid", func(o *pruner.Options) { o.PruneOverSizeLimit = true }, nil, ""},
		{"--prune-over-size-limit with --keep-tag-revisions is rejected", func(o *pruner.Options) { o.PruneOverSizeLimit, o.KeepTagRevisions = true, &n }, pruner.ErrOverSizeWithKeepFlags, ""},
		{"--prune-over-size-limit with --keep-younger-than is rejected", func(o *pruner.Options) { o.PruneOverSizeLimit, o.KeepYoungerThan = true, &d }, pruner.ErrOverSizeWithKeepFlags, ""},
		{"a negative --keep-younger-than is rejected", func(o *pruner.Options) { o.KeepYoungerThan = &negD }, pruner.ErrNegativeKeepYoungerThan, ""},
		{"a negative --keep-tag-revisions is rejected", func(o *pruner.Options) { o.KeepTagRevisions = &neg }, pruner.ErrNegativeKeepTagRevisions, ""},
		{"--certificate-authority with --force-insecure is rejected", func(o *pruner.Options) { o.CertificateAuthority, o.ForceInsecure = "ca.crt", true }, pruner.ErrCAWithForceInsecure, ""},
		{"--certificate-authority with an http:// registry is rejected", func(o *pruner.Options) { o.CertificateAuthority, o.RegistryURL = "ca.crt", "http://r.example.com" }, pruner.ErrCAWithHTTP, ""},
		{"a registry URL with a path is rejected", func(o *pruner.Options) { o.RegistryURL = "r.example.com/v2" }, nil, "invalid --registry-url flag: no path after <host>[:<port>] is allowed"},
		{"a registry URL with another scheme is rejected", func(o *pruner.Options) { o.RegistryURL = "ftp://r.example.com" }, nil, "invalid --registry-url flag: unsupported scheme: ftp"},
		{"a registry URL with a query is rejected", func(o *pruner.Options) { o.RegistryURL = "r.example.com?x=1" }, nil, "no query arguments are allowed"},
		{"a bare host with a port and trailing slash is valid", func(o *pruner.Options) { o.RegistryURL = "r.example.com:5000/" }, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := pruner.NewOptions()
			tt.mutate(&o)
			err := o.Validate()
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("Validate() = %v, want %v", err, tt.wantErr)
			case tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)):
				t.Errorf("Validate() = %v, want a message containing %q", err, tt.wantMsg)
			case tt.wantErr == nil && tt.wantMsg == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestOptionsPolicy(t *testing.T) {
	t.Run("the defaults keep 3 revisions and 60 minutes, with deletion workers defaulting to 5", func(t *testing.T) {
		o := pruner.NewOptions()
		p := o.Policy(now)
		if p.KeepTagRevisions != 3 || p.KeepYoungerThan != time.Hour || !p.AllImages || !p.PruneRegistry {
			t.Errorf("default policy = %+v", p)
		}
		o.NumWorkers = 0
		if o.Workers() != 5 {
			t.Errorf("Workers() with 0 = %d, want 5", o.Workers())
		}
	})
	t.Run("over-size mode evaluates the age rules at now", func(t *testing.T) {
		o := pruner.NewOptions()
		o.PruneOverSizeLimit = true
		if c := o.Policy(now).Cutoff(); !c.Equal(now) {
			t.Errorf("cutoff = %v, want %v", c, now)
		}
	})
}
