// Package testenv starts, for a test or the demo, the real parts pruneguard meets in a cluster:
// a kube-apiserver with etcd (through controller-runtime's envtest, pointed at the binaries that
// `make tools` builds into ./bin), serving CRDs for the OpenShift groups pruneguard reads, and a
// distribution registry on a free loopback port with deletes enabled. It also pushes images to
// that registry and records them as OpenShift's integrated registry would: an Image object
// annotated openshift.io/image.managed=true and a new item at the head of an ImageStream tag.
//
// Every process it starts listens on 127.0.0.1 and is stopped by the stop function it returns;
// StartT registers that function with t.Cleanup, so it runs also when the test fails. The
// package must not be imported by production code paths other than the demo.
package testenv
