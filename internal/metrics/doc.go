// Package metrics holds the one helper the components share for Prometheus registration:
// registering a collector, or reusing the one a registry already holds under the same name
// (a second tracker, webhook or pruner in one process, as in tests).
//
// It owns no metrics itself and must not: each component defines and documents its own.
package metrics
