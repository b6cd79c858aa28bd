package cli

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
	"github.com/pruneguard/pruneguard/pkg/server"
	"github.com/pruneguard/pruneguard/pruner"
)

func TestServeFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, c serveConfig)
	}{
		{name: "the chart's arguments resolve to the server's options",
			args: []string{"--data-dir=/var/lib/pruneguard", "--webhook-port=9443", "--cert-dir=/etc/pruneguard/tls",
				"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--leader-elect", "--leader-election-id=pg-lease",
				"--pruning=off", "--kubeconfig=/k", "--pending-ttl=3m", "-v=1"},
			check: func(t *testing.T, c serveConfig) {
				o := c.Server
				if o.DataDir != "/var/lib/pruneguard" || o.WebhookPort != 9443 || o.CertDir != "/etc/pruneguard/tls" ||
					o.MetricsBindAddress != ":8080" || o.HealthProbeBindAddress != ":8081" || !o.LeaderElect ||
					o.LeaderElectionID != "pg-lease" || o.PendingTTL != 3*time.Minute || c.Kubeconfig != "/k" || c.Verbosity != 1 {
					t.Errorf("resolved %+v", c)
				}
			}},
		{name: "defaults are the chart's ports and a two-minute pending TTL",
			args: []string{"--data-dir=/d", "--cert-dir=/c"},
			check: func(t *testing.T, c serveConfig) {
				o := c.Server
				if o.WebhookPort != 9443 || o.MetricsBindAddress != ":8080" || o.HealthProbeBindAddress != ":8081" || o.PendingTTL != 2*time.Minute || o.LeaderElect {
					t.Errorf("defaults %+v", o)
				}
			}},
		{name: "the data directory is required", args: []string{"--cert-dir=/c"}, wantErr: "--data-dir is required"},
		{name: "the certificate directory is required", args: []string{"--data-dir=/d"}, wantErr: "--cert-dir is required"},
		{name: "a port out of range is refused", args: []string{"--data-dir=/d", "--cert-dir=/c", "--webhook-port=70000"}, wantErr: "invalid --webhook-port"},
		{name: "a non-positive pending TTL is refused", args: []string{"--data-dir=/d", "--cert-dir=/c", "--pending-ttl=0s"}, wantErr: "invalid --pending-ttl"},
		{name: "continuous pruning needs the namespace of its probe pods", args: []string{"--data-dir=/d", "--cert-dir=/c", "--pruning=continuous", "--leader-election-namespace="}, wantErr: "needs pruneguard's namespace"},
		{name: "continuous pruning validates its policy as prune images does", args: []string{"--data-dir=/d", "--cert-dir=/c", "--pruning=continuous", "--leader-election-namespace=pg", "--prune-over-size-limit", "--keep-tag-revisions=1"}, wantErr: "--prune-over-size-limit"},
		{name: "an unknown pruning mode is refused", args: []string{"--data-dir=/d", "--cert-dir=/c", "--pruning=sometimes"}, wantErr: "invalid --pruning"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *serveConfig
			run := func(_ context.Context, _ Streams, c serveConfig) error { got = &c; return nil }
			var out, errOut strings.Builder
			cmd := newServeCommandWith(Streams{Out: &out, Err: &errOut}, run)
			cmd.SetArgs(tc.args)
			cmd.SetOut(&out)
			cmd.SetErr(&errOut)
			err := cmd.ExecuteContext(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != nil {
					t.Fatalf("err %v (ran: %v), want one containing %q and nothing run", err, got != nil, tc.wantErr)
				}
				return
			}
			if err != nil || got == nil {
				t.Fatalf("err %v, ran %v", err, got != nil)
			}
			tc.check(t, *got)
		})
	}
}

func TestIndexVerifyNeedsADataDir(t *testing.T) {
	var out, errOut strings.Builder
	code := Main(context.Background(), Streams{Out: &out, Err: &errOut}, []string{"index", "verify"})
	if code == 0 || !strings.Contains(errOut.String(), "--data-dir is required") {
		t.Errorf("exit %d, stderr %q; want a failure naming --data-dir", code, errOut.String())
	}
	code = Main(context.Background(), Streams{Out: &out, Err: &errOut}, []string{"index", "stats", "--data-dir", t.TempDir() + "/none"})
	if code == 0 || !strings.Contains(errOut.String(), "no index") {
		t.Errorf("stats of a missing directory: exit %d, stderr %q", code, errOut.String())
	}
}

func TestIndexStatsPrintsKeyCounts(t *testing.T) {
	dir := t.TempDir()
	ix, err := index.Open(index.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := ix.BeginRebuild(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	obj := model.Object{Key: model.ObjectKey{Kind: model.KindPod, Namespace: "ns", Name: "p"},
		Refs: []model.Ref{{Kind: model.RefDockerImage, Raw: "r/ns/app:v1", Repo: "ns/app", Tag: "v1"}}}
	if err := rb.PutObject(obj); err != nil {
		t.Fatal(err)
	}
	if err := rb.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := Main(context.Background(), Streams{Out: &out, Err: &errOut}, []string{"index", "stats", "--data-dir", dir, "-o", "json"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got statsView
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if got.Status != "ready" || got.Keys["object"] != 1 || got.Keys["ref-by-tag"] != 1 {
		t.Errorf("stats %+v, want ready with one object and one tag reference", got)
	}
}

func TestServeContinuousPruningOptions(t *testing.T) {
	var got *serveConfig
	run := func(_ context.Context, _ Streams, c serveConfig) error { got = &c; return nil }
	cmd := newServeCommandWith(Streams{Out: io.Discard, Err: io.Discard}, run)
	cmd.SetArgs([]string{"--data-dir=/d", "--cert-dir=/c", "--pruning=continuous", "--leader-election-namespace=pg",
		"--webhook-service=pruneguard", "--confirm", "--keep-tag-revisions=1", "--prune-interval=3s", "--registry-url=r.example.com"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	p := got.Server.Pruning
	if p == nil {
		t.Fatal("--pruning=continuous left Server.Pruning unset")
	}
	if !p.Options.Confirm || p.Options.KeepTagRevisions == nil || *p.Options.KeepTagRevisions != 1 ||
		p.Options.RegistryURL != "r.example.com" || p.Namespace != "pg" || p.Service != "pruneguard" || p.Interval != 3*time.Second {
		t.Errorf("Pruning = %+v, want the flags given", p)
	}
}

func TestServeFullRoundInterval(t *testing.T) {
	base := []string{"--data-dir=/d", "--cert-dir=/c", "--pruning=continuous", "--leader-election-namespace=pg"}
	for _, tc := range []struct {
		name    string
		args    []string
		want    time.Duration
		wantErr string
	}{
		{name: "full rounds default to the pruner's safety-net interval", want: pruner.DefaultFullRoundInterval},
		{name: "--full-round-interval sets the interval of full rounds", args: []string{"--full-round-interval=30m"}, want: 30 * time.Minute},
		{name: "the deprecated --prune-interval still sets it", args: []string{"--prune-interval=20s"}, want: 20 * time.Second},
		{name: "both names together are refused", args: []string{"--prune-interval=20s", "--full-round-interval=30m"}, wantErr: "pass only --full-round-interval"},
		{name: "a zero interval is refused", args: []string{"--full-round-interval=0s"}, wantErr: "invalid --full-round-interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cmd, errOut, err := parseServe(append(append([]string(nil), base...), tc.args...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Server.Pruning.Interval != tc.want {
				t.Errorf("Interval = %s, want %s", got.Server.Pruning.Interval, tc.want)
			}
			if deprecated := strings.Contains(errOut, "deprecated"); deprecated != cmd.Flags().Changed("prune-interval") {
				t.Errorf("deprecation warning printed = %v for args %v: %q", deprecated, tc.args, errOut)
			}
		})
	}
}

func TestServeLeaseTiming(t *testing.T) {
	base := []string{"--data-dir=/d", "--cert-dir=/c", "--leader-elect", "--leader-election-namespace=pg"}
	for _, tc := range []struct {
		name    string
		args    []string
		want    server.LeaseTiming
		wantErr string
	}{
		{name: "the lease timing defaults to controller-runtime's", want: server.LeaseTiming{LeaseDuration: server.DefaultLeaseDuration, RenewDeadline: server.DefaultRenewDeadline, RetryPeriod: server.DefaultRetryPeriod}},
		{name: "the three flags set the lease timing", args: []string{"--leader-elect-lease-duration=30s", "--leader-elect-renew-deadline=20s", "--leader-elect-retry-period=4s"}, want: server.LeaseTiming{LeaseDuration: 30 * time.Second, RenewDeadline: 20 * time.Second, RetryPeriod: 4 * time.Second}},
		{name: "a renew deadline as long as the lease is refused", args: []string{"--leader-elect-lease-duration=10s"}, wantErr: "RenewDeadline 10s must be shorter than LeaseDuration 10s"},
		{name: "a retry period too close to the renew deadline is refused", args: []string{"--leader-elect-retry-period=9s"}, wantErr: "invalid --leader-elect-lease-duration, --leader-elect-renew-deadline or --leader-elect-retry-period"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseServeExpecting(t, append(append([]string(nil), base...), tc.args...), tc.wantErr)
			if got == nil {
				return
			}
			if got.Server.Lease != tc.want {
				t.Errorf("Lease = %+v, want %+v", got.Server.Lease, tc.want)
			}
		})
	}
}

// parseServeExpecting parses args as parseServe does and returns the configuration, or nil
// when wantErr is set and the error contains it; any other outcome fails t.
func parseServeExpecting(t *testing.T, args []string, wantErr string) *serveConfig {
	t.Helper()
	got, _, _, err := parseServe(args)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one containing %q", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// parseServe runs serve's flag parsing and validation on args and returns the configuration
// serve would have run with, the command, and what it printed on stderr.
func parseServe(args []string) (*serveConfig, *cobra.Command, string, error) {
	var got *serveConfig
	run := func(_ context.Context, _ Streams, c serveConfig) error { got = &c; return nil }
	var errOut strings.Builder
	cmd := newServeCommandWith(Streams{Out: io.Discard, Err: &errOut}, run)
	cmd.SetOut(io.Discard)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return got, cmd, errOut.String(), err
}

func TestServeIndexRecordCache(t *testing.T) {
	base := []string{"--data-dir=/d", "--cert-dir=/c"}
	for _, tc := range []struct {
		name    string
		args    []string
		want    int64
		wantErr string
	}{
		{name: "the default is the index's default budget", want: index.DefaultRecordCacheBytes},
		{name: "a quantity sets the budget in bytes", args: []string{"--index-record-cache=64Mi"}, want: 64 << 20},
		{name: "a decimal quantity is bytes too", args: []string{"--index-record-cache=100M"}, want: 100_000_000},
		{name: "0 disables the cache", args: []string{"--index-record-cache=0"}, want: -1},
		{name: "a negative size is refused", args: []string{"--index-record-cache=-1Mi"}, wantErr: `invalid --index-record-cache "-1Mi"`},
		{name: "a size that is not a quantity is refused", args: []string{"--index-record-cache=lots"}, wantErr: "want a size such as 32Mi, or 0 to disable the cache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseServeExpecting(t, append(append([]string(nil), base...), tc.args...), tc.wantErr)
			if got == nil {
				return
			}
			if got.Server.RecordCacheBytes != tc.want {
				t.Errorf("RecordCacheBytes = %d, want %d", got.Server.RecordCacheBytes, tc.want)
			}
		})
	}
}
