// Package charttest tests the pruneguard Helm chart with the real tools a user meets: `helm lint
// --strict` and `helm template` for every documented value set, every rendered object created
// with a server-side dry run against a real kube-apiserver (pkg/testenv) with cert-manager's
// CRDs and the chart's CRDs installed, and assertions on what matters in the rendered output:
// the webhook's exclusions and rules, RBAC exactly as README.md documents it, the security
// contexts, the CronJob's arguments, and README and values.schema.json against values.yaml.
//
// It holds only tests. Without bin/helm (or the control plane binaries) the tests skip with the
// command that builds them, unless the CI environment variable is set: in CI a missing tool is a
// failure, never a silent skip.
package charttest
