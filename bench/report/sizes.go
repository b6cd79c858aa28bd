package report

import (
	"os"
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
