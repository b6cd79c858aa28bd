// Package certs issues and rotates the webhook's serving certificate when cert-manager is not
// installed (`serve --self-signed-certs`, the chart's certManager.enabled=false).
//
// The CA and the serving certificate live in one Secret that every replica reads, so all
// replicas serve certificates of the same CA; the first replica to find the Secret empty or
// due for renewal writes it, and the others lose the resourceVersion race and read what it
// wrote. The keeper patches the CA bundle into the webhook configuration and keeps it there
// (a `helm upgrade` resets it). While a CA is replaced, the bundle holds the old and the new
// CA, so API servers trust both until every replica serves the new certificate.
//
// Trade-off against cert-manager (stated in the chart): no extra dependency, but the CA key
// sits in a Secret pruneguard can read, and nothing audits or revokes the certificates.
//
// The package must not touch any Secret or webhook configuration other than the two it is
// given, and must never serve a certificate it could not parse and verify against its CA.
package certs
