package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemo runs the demo's non-interactive path, exactly as `make demo` does: every step
// checks its own outcome, so exit code 0 means the whole loop worked on the real parts.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo starts a control plane and a registry")
	}
	var out bytes.Buffer
	code := Main(context.Background(), Streams{In: strings.NewReader(""), Out: &out, Err: &out}, []string{"demo"})
	if code != 0 {
		t.Fatalf("pruneguard demo exited %d:\n%s", code, out.String())
	}
	for _, want := range []string{"Deployment shop/legacy references it", "deleted", "denied, naming the image", "Summary"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
