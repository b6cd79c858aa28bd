package imageref

import (
	"strings"
	"testing"

	"github.com/distribution/reference"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// FuzzParse checks, for any input, that parsing never panics; that the hand-written fast path
// accepts only what distribution/reference accepts, and splits it identically; that pruneguard
// never accepts what the docker grammar refuses; that a parsed reference prints back to its
// input and parses to itself; and that the oc match keys are consistent with it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "nginx", "h.io/ns/app:v1", "h.io/ns/app@" + dgst, "[::1]:5000/ns/app"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if fast, ok := parseFast(s); ok {
			slow, err := parseSlow(s)
			if err != nil || slow != fast {
				t.Fatalf("fast path accepted %q as %+v; library: %+v, %v", s, fast, slow, err)
			}
		}
		ref, refErr := PullSpec(s)
		if (err == nil) != (refErr == nil) || (ref.Invalid == "") != (err == nil) {
			t.Fatalf("Parse error %v, PullSpec error %v, Invalid %q disagree", err, refErr, ref.Invalid)
		}
		if err != nil {
			if r != (Reference{}) {
				t.Fatalf("error %v returned with %+v", err, r)
			}
			return
		}
		if _, derr := reference.Parse(s); derr != nil {
			t.Fatalf("accepted %q that distribution/reference refuses: %v", s, derr)
		}
		if got := r.String(); got != s {
			t.Fatalf("String() = %q, want the input %q", got, s)
		}
		if again, err := Parse(r.String()); err != nil || again != r {
			t.Fatalf("re-parse of %q = %+v, %v; want %+v", r.String(), again, err, r)
		}
		checkKeys(t, r, ref)
	})
}

func checkKeys(t *testing.T, r Reference, ref model.Ref) {
	t.Helper()
	if repo := r.Repo(); repo != "" {
		if r.Registry == "" || strings.Count(repo, "/") != 1 || repo != r.Namespace+"/"+r.Name {
			t.Fatalf("Repo %q of %+v is not NAMESPACE/NAME with a registry", repo, r)
		}
	}
	if ref.Repo != r.Repo() || ref.Digest != r.Digest {
		t.Fatalf("PullSpec keys %+v disagree with %+v", ref, r)
	}
	if (ref.Tag == "") == (ref.Digest == "") {
		t.Fatalf("PullSpec %+v must have exactly one of Tag and Digest", ref)
	}
}
