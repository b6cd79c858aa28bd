// Package chart is the pruneguard Helm chart seen from Go: the chart's files embedded in the
// binary, the webhook rules the chart renders (files/webhook-rules.yaml, the one source of what
// the admission webhook is sent), and helpers that render the chart with a real helm binary.
//
// `pruneguard serve` mounts its handler on [WebhookSpec.Path]; integration tests register the
// ValidatingWebhookConfiguration that [WebhookConfiguration] renders, with only its
// clientConfig pointed at the test server ([PointAt]), so what is tested is what is installed.
//
// The package must not change the chart: it only reads it. Rendering shells out to the helm
// binary it is given (tests get it from testenv.Tool("helm")); it never downloads anything.
package chart
