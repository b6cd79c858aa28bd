package report

import (
	"os"
	"strconv"
	"strings"
)

// SizesEnv names the environment variable that chooses the cluster sizes the sized benchmarks
// run: a comma-separated list of S, M and L. `make bench` runs all three, `make bench-quick`
// sets it to S. A filter such as -bench '.*/size=S' cannot do this alone: it keeps the
// benchmarks without sizes from reporting anything.
const SizesEnv = "PRUNEGUARD_BENCH_SIZES"

// Sizes returns the cluster sizes SizesEnv selects, smallest first; every size when it is
// unset or names none of them.
func Sizes() []string {
	return parseSizes(os.Getenv(SizesEnv))
}

func parseSizes(v string) []string {
	want := map[string]bool{}
	for _, s := range strings.Split(v, ",") {
		want[strings.ToUpper(strings.TrimSpace(s))] = true
	}
	var out []string
	for _, s := range []string{"S", "M", "L"} {
		if want[s] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return []string{"S", "M", "L"}
	}
	return out
}

// QuickEnv names the environment variable `make bench-quick` sets to a true value
// (strconv.ParseBool). Benchmarks whose cost does not depend on the cluster size then do
// less, and report what they did: the webhook-latency alternations run a third of their pairs
// (their "pairs" figure says how many) and …ByRate leaves out the rate BenchmarkWebhookAddedLatency
// measures; the do-nothing webhook floor and the index load at L (BenchmarkRebuildLoad), which
// back no target, are skipped. Everything else runs as in `make bench`.
const QuickEnv = "PRUNEGUARD_BENCH_QUICK"

// Quick reports whether QuickEnv asks for a quick run; unset or not a boolean is false.
func Quick() bool {
	quick, err := strconv.ParseBool(os.Getenv(QuickEnv))
	return err == nil && quick
}
