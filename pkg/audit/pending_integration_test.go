package audit_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/index"
)

// checkPendingObject records, as the webhook does at admission, a pending version of two
// objects: a pod no watch has shown yet, and the deployment shop/web updated with a second
// container. refs --object, through the API and in the CLI's table, lists their pending
// references marked pending, after the confirmed ones.
func checkPendingObject(t *testing.T, c *cluster, srv *httptest.Server, caFile, token string) {
	ctx := context.Background()
	host := c.env.Registry.Host
	arriving := podObject("shop", "arriving", map[string]string{"app": c.web.PullSpec})
	updated := deployment("shop", "web", c.web.PullSpec)
	spec := &updated.Spec.Template.Spec
	spec.Containers = append(spec.Containers, spec.Containers[0])
	spec.Containers[1].Name, spec.Containers[1].Image = "tools", host+"/team/tools:latest"
	for _, obj := range []client.Object{arriving, updated} {
		res, err := extract.Object(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ix.Apply(ctx, index.PutPending(*res.Referrer, time.Now().Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	api := audit.NewClient(audit.ClientOptions{BaseURL: srv.URL, Token: token, HTTPClient: srv.Client()})
	rows := func(object string) []string {
		t.Helper()
		res, err := audit.AllObjectImages(ctx, api, audit.ObjectQuery{Object: object}, 1)
		if err != nil {
			t.Fatalf("refs --object %s: %v", object, err)
		}
		var out []string
		for _, im := range res.Images {
			if (im.State == audit.StatePending) == im.Since.IsZero() {
				t.Errorf("%s %s: state %s with since %v; only pending rows carry a time", object, im.Container, im.State, im.Since)
			}
			out = append(out, im.Container+" "+im.State+" "+im.Digest)
		}
		return out
	}
	equalRows := func(what string, got, want []string) {
		t.Helper()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n got  %q\n want %q", what, got, want)
		}
	}
	equalRows("a pod only admitted so far", rows("Pod/shop/arriving"), []string{"app pending " + c.web.Digest})
	equalRows("a deployment updated with a second container", rows("Deployment/shop/web"), []string{
		"app confirmed " + c.web.Digest, "app pending " + c.web.Digest, "tools pending " + c.tools.Digest})

	code, out, errOut := runCLI("refs", "--object", "Pod/shop/arriving", "--server", srv.URL, "--token", token, "--certificate-authority", caFile)
	if code != 0 || !strings.Contains(out, "STATE") || !strings.Contains(out, c.web.Digest+"  digest       pending") {
		t.Errorf("CLI refs --object of a pending pod: exit %d:\n%s%s", code, out, errOut)
	}
	res, err := api.Referrers(ctx, audit.ImageQuery{Image: c.web.Digest, Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if keys := strings.Join(referrerKeys(res.Referrers), ","); !strings.Contains(keys, "Pod/shop/arriving app pending") {
		t.Errorf("refs IMAGE does not list the pending pod the object query lists: %s", keys)
	}
}
