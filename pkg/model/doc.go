// Package model holds the plain data that flows between pruneguard's parts: the objects that
// reference images, the references they carry, and the images, image streams and limits that the
// pruning policy reads.
//
// The index (pkg/index) stores these values and answers Reader's questions; the extractors
// (pkg/extract) produce them from Kubernetes and OpenShift objects; the pruner reads them. The
// package owns no behaviour beyond small helpers on its own types: it must not import the index,
// the Kubernetes client or anything that performs I/O.
package model
