//go:build tools

// Package tools pins the kube-apiserver that pkg/testenv runs. It is a module of its own so that
// k8s.io/kubernetes, which is not meant to be imported, never enters pruneguard's own go.mod.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
