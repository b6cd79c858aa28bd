package imageref

import "testing"

// TestFastPathAgreesExhaustively compares the fast path with distribution/reference on every
// string of up to four characters over an alphabet holding each character class of the grammar,
// and on each such string placed where a host, a path component, a tag and a digest go.
func TestFastPathAgreesExhaustively(t *testing.T) {
	alphabet := []string{"a", "1", "Z", ".", "_", "-", ":", "/", "@", "["}
	words := []string{""}
	for n := 0; n < 4; n++ {
		prev := words
		for _, w := range prev {
			if len(w) != n {
				continue
			}
			for _, c := range alphabet {
				words = append(words, w+c)
			}
		}
	}
	accepted := 0
	for _, w := range words {
		for _, s := range []string{w, "h.io/" + w, w + "/ns/app", "h.io/ns/" + w + ":v1", "ns/app:" + w, "h.io/" + w + "@" + dgst} {
			fast, ok := parseFast(s)
			if !ok {
				continue
			}
			accepted++
			slow, err := parseSlow(s)
			if err != nil || slow != fast {
				t.Fatalf("fast path accepted %q as %+v; library: %+v, %v", s, fast, slow, err)
			}
		}
	}
	if accepted == 0 {
		t.Fatal("the fast path accepted nothing")
	}
}

// TestFastPathTakesCommonForms guards the speed of the webhook: the usual pull specs must not
// fall through to the regular expressions.
func TestFastPathTakesCommonForms(t *testing.T) {
	for _, s := range []string{
		"image-registry.openshift-image-registry.svc:5000/ns-0/app-1:latest",
		"image-registry.openshift-image-registry.svc:5000/ns-0/app-1@" + dgst,
		"quay.io/org/app:v1.2.3-rc_1",
		"docker.io/library/nginx:1.25",
		"nginx",
		"registry.redhat.io/ubi9/ubi-minimal@" + dgst,
		"localhost:5000/a/b__c---d.e",
	} {
		if _, ok := parseFast(s); !ok {
			t.Errorf("parseFast(%q) declined a common form", s)
		}
	}
}
