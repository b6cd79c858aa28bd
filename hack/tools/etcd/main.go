// Command etcd is the etcd server that pkg/testenv runs under kube-apiserver, built from the
// pinned go.etcd.io/etcd/server/v3 module so that tests need nothing but the Go module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
