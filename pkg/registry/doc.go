// Package registry is the client pruneguard deletes registry content with: layer links and
// manifest links of a repository through the distribution v2 API, and blobs through the
// OpenShift registry's /admin/blobs API.
//
// Connect finds out how to talk to a registry before anything is deleted: it picks the
// protocol by the secure-connection rules of `oc adm prune images` (HTTPS with verification;
// plain HTTP or an unverified certificate only with --force-insecure, an http:// URL, a
// loopback or link-local address, or a kubeconfig that is itself insecure, and never with
// --certificate-authority), pings the registry, and detects its dialect: the OpenShift
// registry, which has /admin/blobs, or a plain distribution registry, which has not and whose
// blobs are left to its own garbage collector. Errors a user can act on name the flag that
// fixes them (--certificate-authority, --force-insecure, --registry-url), as oc's
// troubleshooting guide does.
//
// Every delete treats 404 as success, so a prune that is run again after a failure finishes
// the work of the first. The package knows nothing of image streams, plans or the index; it
// must not decide what to delete, only carry out deletes it is given.
package registry
