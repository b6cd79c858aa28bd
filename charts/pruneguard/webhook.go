package chart

import (
	"context"
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// WebhookConfiguration renders the chart with o and returns its ValidatingWebhookConfiguration,
// decoded strictly (a field the Go type does not know is an error). Register it with PointAt,
// or give it to envtest's WebhookInstallOptions, which rewrites clientConfig the same way.
func WebhookConfiguration(ctx context.Context, o Options) (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	objs, err := Render(ctx, o)
	if err != nil {
		return nil, err
	}
	var found *admissionregistrationv1.ValidatingWebhookConfiguration
	for _, u := range objs {
		if u.GetKind() != "ValidatingWebhookConfiguration" {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("the chart rendered more than one ValidatingWebhookConfiguration (%s and %s)", found.Name, u.GetName())
		}
		found = &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, found, true); err != nil {
			return nil, fmt.Errorf("failed to decode ValidatingWebhookConfiguration %s: %w", u.GetName(), err)
		}
	}
	if found == nil {
		return nil, fmt.Errorf("the chart rendered no ValidatingWebhookConfiguration")
	}
	return found, nil
}

// PointAt returns a copy of vwc whose webhooks call baseURL (scheme, host and port, such as
// https://127.0.0.1:9443) plus each webhook's service path, trusting caBundle. Nothing else
// changes, so the rules, selectors and match conditions stay the chart's.
func PointAt(vwc *admissionregistrationv1.ValidatingWebhookConfiguration, baseURL string, caBundle []byte) *admissionregistrationv1.ValidatingWebhookConfiguration {
	out := vwc.DeepCopy()
	for i := range out.Webhooks {
		cc := &out.Webhooks[i].ClientConfig
		path := ""
		if cc.Service != nil && cc.Service.Path != nil {
			path = *cc.Service.Path
		}
		url := strings.TrimSuffix(baseURL, "/") + path
		cc.URL = &url
		cc.Service = nil
		cc.CABundle = append([]byte(nil), caBundle...)
	}
	return out
}
