package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pruneguard/pruneguard/pkg/testenv"
)

// etcdPrefix is kube-apiserver's default --etcd-prefix, which envtest keeps.
const etcdPrefix = "/registry/"

// etcdBatch is how many objects go into one etcd transaction: etcd's default
// --max-txn-ops is 128.
const etcdBatch = 100

// storagePaths are the etcd key prefixes under which kube-apiserver stores each kind: the
// resource name for built-in kinds (ReplicationControllers are "controllers", for history),
// GROUP/RESOURCE for kinds served from CRDs.
var storagePaths = map[string]string{
	"Namespace": "namespaces", "Pod": "pods", "ReplicationController": "controllers",
	"ReplicaSet": "replicasets", "Deployment": "deployments", "StatefulSet": "statefulsets",
	"DaemonSet": "daemonsets", "Job": "jobs", "CronJob": "cronjobs", "LimitRange": "limitranges",
	"Image": "image.openshift.io/images", "ImageStream": "image.openshift.io/imagestreams",
	"DeploymentConfig": "apps.openshift.io/deploymentconfigs", "Build": "build.openshift.io/builds",
	"BuildConfig": "build.openshift.io/buildconfigs",
}

// LoadEtcd writes every object of cl straight into the etcd behind a kube-apiserver, in
// JSON (which the API server's storage decoder reads next to protobuf), in transactions of
// etcdBatch objects with parallelism concurrent writers. The API server sees the objects
// through its watch on etcd, as if another API server had written them.
//
// Unlike Load it keeps what a create through the API cannot: metadata.creationTimestamp and
// uid (so ages are those of the generated cluster), and status with the object (no second
// write). It skips admission and validation, so it is for the test environment only, where
// nothing else writes the same keys; its objects are named as Load names them.
func LoadEtcd(ctx context.Context, endpoint string, cl *Cluster, parallelism int) (LoadStats, error) {
	start := time.Now()
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second})
	if err != nil {
		return LoadStats{}, fmt.Errorf("failed to connect to etcd at %s: %w", endpoint, err)
	}
	defer etcd.Close()
	var written atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	batches := make(chan []clientv3.Op, max(1, parallelism))
	g.Go(func() error {
		defer close(batches)
		var ops []clientv3.Op
		send := func() error {
			select {
			case batches <- ops:
				ops = nil
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := cl.Each(EachOptions{Namespaces: true, ImageName: testenv.ImageObjectName}, func(obj client.Object) error {
			op, err := putOp(obj)
			if err != nil {
				return err
			}
			if ops = append(ops, op); len(ops) == etcdBatch {
				return send()
			}
			return nil
		})
		if err == nil && len(ops) > 0 {
			err = send()
		}
		return err
	})
	for range max(1, parallelism) {
		g.Go(func() error {
			for ops := range batches {
				if _, err := etcd.Txn(ctx).Then(ops...).Commit(); err != nil {
					return fmt.Errorf("failed to write %d objects to etcd: %w", len(ops), err)
				}
				written.Add(int64(len(ops)))
			}
			return nil
		})
	}
	err = g.Wait()
	return LoadStats{Objects: int(written.Load()), Duration: time.Since(start)}, err
}

// putOp is the etcd write of obj at the key kube-apiserver reads it from.
func putOp(obj client.Object) (clientv3.Op, error) {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	path, ok := storagePaths[kind]
	if !ok {
		return clientv3.Op{}, fmt.Errorf("no etcd path for kind %s", kind)
	}
	key := etcdPrefix + path + "/"
	if ns := obj.GetNamespace(); ns != "" {
		key += ns + "/"
	}
	key += obj.GetName()
	data, err := json.Marshal(obj)
	if err != nil {
		return clientv3.Op{}, fmt.Errorf("failed to encode %s %s: %w", kind, key, err)
	}
	return clientv3.OpPut(key, string(data)), nil
}
