// Package scheme builds the runtime.Scheme of every API type pruneguard reads or writes: the
// Kubernetes core, apps and batch groups, the OpenShift image, build and apps groups, and the
// apiextensions group the test environment installs CRDs with.
//
// It returns a new scheme on every call and keeps no package-level scheme, so callers cannot
// mutate each other's type registrations.
package scheme

import (
	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// New returns a scheme with every group pruneguard uses registered. It panics only if the
// generated registration code of a dependency is broken, which is a programming error.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		imagev1.Install,
		buildv1.Install,
		appsv1.Install,
		apiextensionsv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}
