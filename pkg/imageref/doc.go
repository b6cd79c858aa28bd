// Package imageref parses image references the way `oc adm prune images` does and turns them
// into the match keys of model.Ref.
//
// It owns three things: the parsing of pull specs by the docker reference grammar
// (github.com/distribution/reference, wrapped so that the split into registry, namespace and
// name and the length limit follow oc's library-go parser); the resolution of OpenShift
// ObjectReferences of kind DockerImage, ImageStreamTag and ImageStreamImage; and the
// InvalidReferenceError whose message is byte for byte the one oc prints when it aborts on an
// invalid reference.
//
// A reference protects an image stream only when it names a registry host, a namespace and a
// one-segment name; the host is ignored when matching, so "any-host/ns/is:tag" protects item 0
// of ns/is:tag. References that do not have that shape keep their digest (pruneguard never
// deletes an image any reference names) but get an empty Repo, exactly as oc skips them.
//
// The package does no I/O, keeps no state and never panics on any input; it must not import
// the index, the Kubernetes client or the extractors.
package imageref
