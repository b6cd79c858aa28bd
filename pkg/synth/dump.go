package synth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Dump framing: the List that `oc get ... -A -o json` prints, with one item per line so
// that a large dump can be read and diffed by line.
const (
	dumpHead = "{\n\"apiVersion\": \"v1\",\n\"items\": [\n"
	dumpTail = "\n],\n\"kind\": \"List\",\n\"metadata\": {\"resourceVersion\": \"\"}\n}\n"
)

// WriteDump writes the cluster as a `List` JSON document, the shape of
// shared/conformance/*/cluster.json and of what `pruneguard prune images --from-file` reads:
// every Image, ImageStream, referrer and LimitRange (no Namespaces) with apiVersion and kind,
// Images under their OpenShift names (the digest). Objects are encoded one at a time into a
// buffered writer, so memory does not grow with the cluster. The output depends only on the
// cluster: the same seed gives the same bytes.
func WriteDump(w io.Writer, c *Cluster) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.WriteString(dumpHead); err != nil {
		return fmt.Errorf("failed to write the dump: %w", err)
	}
	first := true
	err := c.Each(EachOptions{}, func(obj client.Object) error {
		data, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("failed to encode %s %s/%s: %w",
				obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), err)
		}
		if !first {
			if _, err := bw.WriteString(",\n"); err != nil {
				return err
			}
		}
		first = false
		_, err = bw.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to write the dump: %w", err)
	}
	if _, err := bw.WriteString(dumpTail); err != nil {
		return fmt.Errorf("failed to write the dump: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("failed to write the dump: %w", err)
	}
	return nil
}
