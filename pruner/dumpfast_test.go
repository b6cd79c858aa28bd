package pruner

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/pruneguard/pruneguard/pkg/extract"
	"github.com/pruneguard/pruneguard/pkg/slim"
	"github.com/pruneguard/pruneguard/pkg/synth"
)

// unread is a block of fields the extraction does not read, as real objects carry them.
const unread = `"labels":{"app":"web","x":"y"},"managedFields":[{"manager":"kubectl","operation":"Update","fieldsV1":{"f:spec":{"f:x":{}}}}],"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"r","uid":"u","controller":true}],"generation":7`

const podSpecFull = `{"initContainers":[{"name":"init","image":"quay.io/a/init:1","resources":{"limits":{"cpu":"1"}}}],` +
	`"containers":[{"name":"app","image":"image-registry.openshift-image-registry.svc:5000/ns/is@sha256:` + hex64 + `","env":[{"name":"A","value":"b"}],"ports":[{"containerPort":8080}]},` +
	`{"name":"blank","image":"  "},{"name":"bad","image":"UPPER/Case:tag"}],` +
	`"ephemeralContainers":[{"name":"debug","image":"busybox","targetContainerName":"app"}],` +
	`"volumes":[{"name":"v","emptyDir":{}}],"nodeSelector":{"a":"b"},"tolerations":[{"key":"k","operator":"Exists"}]}`

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func metaJSON(ns, name string) string {
	return `"metadata":{"name":"` + name + `","namespace":"` + ns + `","uid":"uid-` + name + `","resourceVersion":"42","creationTimestamp":"2024-03-01T10:00:00Z",` + unread + `}`
}

// fastDecodeCases are objects of every kind the fast decode reads, with the edge cases of
// each; every one must extract exactly as its typed decode extracts.
var fastDecodeCases = []struct{ name, obj string }{
	{"a pod's init, regular and ephemeral containers, phase and metadata are read among unread fields",
		`{"apiVersion":"v1","kind":"Pod",` + metaJSON("ns", "p1") + `,"spec":` + podSpecFull + `,"status":{"phase":"Running","podIP":"10.0.0.1","containerStatuses":[{"name":"app","imageID":"x"}]}}`},
	{"a pod without spec or status has no references",
		`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p2","namespace":"ns"}}`},
	{"null fields are left empty as the typed decode leaves them",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p3","namespace":null,"uid":null,"creationTimestamp":null},"spec":{"containers":null,"initContainers":[]},"status":null}`},
	{"escaped field names and strings decode to the same values",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"n\u0061me":"p4","namespace":"n\u00e9s"},"spec":{"containers":[{"name":"a\"b","im\u0061ge":"quay.io/x/y:\u0031"}]}}`},
	{"a field repeated takes its last value",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p5","namespace":"ns"},"spec":{"containers":[{"name":"a","image":"first","image":"quay.io/x/second"}]}}`},
	{"field names differing in case are not the API's fields",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p6","Namespace":"NS"},"spec":{"containers":[{"Name":"a","IMAGE":"quay.io/x/y","name":"b","image":"quay.io/x/z"}]}}`},
	{"a replication controller without template has no references",
		`{"apiVersion":"v1","kind":"ReplicationController",` + metaJSON("ns", "rc1") + `,"spec":{"replicas":1,"template":null}}`},
	{"a replication controller's template is read",
		`{"apiVersion":"v1","kind":"ReplicationController",` + metaJSON("ns", "rc2") + `,"spec":{"template":{"metadata":{"labels":{"a":"b"}},"spec":` + podSpecFull + `}}}`},
	{"a replica set's template is read", `{"apiVersion":"apps/v1","kind":"ReplicaSet",` + metaJSON("ns", "rs") + `,"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"spec":` + podSpecFull + `}}}`},
	{"a deployment's template is read", `{"apiVersion":"apps/v1","kind":"Deployment",` + metaJSON("ns", "d") + `,"spec":{"strategy":{"type":"RollingUpdate"},"template":{"spec":` + podSpecFull + `}},"status":{"replicas":3}}`},
	{"a stateful set's template is read", `{"apiVersion":"apps/v1","kind":"StatefulSet",` + metaJSON("ns", "s") + `,"spec":{"serviceName":"x","template":{"spec":` + podSpecFull + `}}}`},
	{"a daemon set's template is read", `{"apiVersion":"apps/v1","kind":"DaemonSet",` + metaJSON("ns", "ds") + `,"spec":{"template":{"spec":` + podSpecFull + `}}}`},
	{"a job's template is read", `{"apiVersion":"batch/v1","kind":"Job",` + metaJSON("ns", "j") + `,"spec":{"backoffLimit":3,"template":{"spec":` + podSpecFull + `}}}`},
	{"a cron job's job template is read", `{"apiVersion":"batch/v1","kind":"CronJob",` + metaJSON("ns", "cj") + `,"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":` + podSpecFull + `}}}}}`},
	{"a deployment config's template and image change triggers are read",
		`{"apiVersion":"apps.openshift.io/v1","kind":"DeploymentConfig",` + metaJSON("ns", "dc") + `,"spec":{"template":{"spec":` + podSpecFull + `},` +
			`"triggers":[{"type":"ConfigChange"},{"type":"ImageChange","imageChangeParams":{"automatic":true,"containerNames":["app"],"from":{"kind":"ImageStreamTag","name":"is:v1"}}},{"type":"ImageChange"},` +
			`{"type":"ImageChange","imageChangeParams":{"from":{"kind":"ImageStreamImage","namespace":"other","name":"is@sha256:` + hex64 + `"}}}]}}`},
	{"a deployment config without template still has its triggers",
		`{"apiVersion":"apps.openshift.io/v1","kind":"DeploymentConfig",` + metaJSON("ns", "dc2") + `,"spec":{"triggers":[{"type":"ImageChange","imageChangeParams":{"from":{"kind":"DockerImage","name":"quay.io/a/b:c"}}}]}}`},
	{"a build's strategies and source images are read, every strategy set",
		`{"apiVersion":"build.openshift.io/v1","kind":"Build",` + metaJSON("ns", "b1") + `,"spec":{"serviceAccount":"builder","source":{"git":{"uri":"https://x"},"images":[{"from":{"kind":"ImageStreamTag","name":"src:latest"},"paths":[{"sourcePath":"/a","destinationDir":"b"}]}]},` +
			`"strategy":{"type":"Source","sourceStrategy":{"from":{"kind":"DockerImage","name":"quay.io/s2i/py:3"},"env":[{"name":"A","value":"1"}]},"dockerStrategy":{"noCache":true},"customStrategy":{"from":{"kind":"ImageStreamImage","name":"c@sha256:` + hex64 + `"}}},` +
			`"output":{"to":{"kind":"ImageStreamTag","name":"out:latest"}}},"status":{"phase":"Complete"}}`},
	{"a docker build's from is read",
		`{"apiVersion":"build.openshift.io/v1","kind":"Build",` + metaJSON("ns", "b2") + `,"spec":{"strategy":{"type":"Docker","dockerStrategy":{"from":{"kind":"ImageStreamTag","name":"base:1"}}}}}`},
	{"a build config's strategy, source images and image change triggers are read",
		`{"apiVersion":"build.openshift.io/v1","kind":"BuildConfig",` + metaJSON("ns", "bc") + `,"spec":{"runPolicy":"Serial","strategy":{"sourceStrategy":{"from":{"kind":"ImageStreamTag","name":"py:3","namespace":"openshift"}}},` +
			`"source":{"images":[{"from":{"kind":"DockerImage","name":"quay.io/a/b"}}]},` +
			`"triggers":[{"type":"GitHub","github":{"secret":"s"}},{"type":"ImageChange","imageChange":{}},{"type":"ImageChange","imageChange":{"from":{"kind":"ImageStreamTag","name":"base:2"}}},{"type":"ConfigChange"}]}}`},
	{"an image stream's spec tags, bare local tags included, and status items are read",
		`{"apiVersion":"image.openshift.io/v1","kind":"ImageStream",` + metaJSON("ns", "is") + `,"spec":{"lookupPolicy":{"local":false},"tags":[` +
			`{"name":"v1","from":{"kind":"DockerImage","name":"quay.io/a/b:v1"},"importPolicy":{},"referencePolicy":{"type":"Source"}},{"name":"latest","from":{"kind":"ImageStreamTag","name":"v1"}},{"name":"none"}]},` +
			`"status":{"dockerImageRepository":"r/ns/is","tags":[{"tag":"v1","items":[{"created":"2024-03-02T10:00:00Z","dockerImageReference":"r/ns/is@sha256:` + hex64 + `","image":"sha256:` + hex64 + `","generation":3},` +
			`{"created":"2024-03-01T10:00:00Z","dockerImageReference":"x","image":"sha256:1111111111111111111111111111111111111111111111111111111111111111","generation":1}],"conditions":[{"type":"ImportSuccess","status":"False"}]},{"tag":"empty","items":null}]}}`},
	{"an image's layers, config, size, managed annotation and reference are read, the manifest skipped",
		`{"apiVersion":"image.openshift.io/v1","kind":"Image","metadata":{"name":"sha256:` + hex64 + `","creationTimestamp":"2024-03-01T10:00:00Z","annotations":{"openshift.io/image.managed":"true","x":"y"},` + unread + `},` +
			`"dockerImageReference":"r/ns/is@sha256:` + hex64 + `","dockerImageManifest":"{\"schemaVersion\":2,\"layers\":[{\"digest\":\"sha256:aa\"}]}","dockerImageManifestMediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
			`"dockerImageMetadataVersion":"1.0","dockerImageMetadata":{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"sha256:2222222222222222222222222222222222222222222222222222222222222222","Size":12345,"Config":{"Env":["A=b"],"Labels":{"a":"b"}},"ContainerConfig":{}},` +
			`"dockerImageLayers":[{"name":"sha256:3333333333333333333333333333333333333333333333333333333333333333","size":100,"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip"},{"name":"sha256:4444444444444444444444444444444444444444444444444444444444444444","size":0,"mediaType":"m"}],` +
			`"dockerImageSignatures":["c2ln"],"dockerImageConfig":"{}"}`},
	{"a manifest list's children are read and an image without metadata has no size",
		`{"apiVersion":"image.openshift.io/v1","kind":"Image","metadata":{"name":"sha256:` + hex64 + `"},"dockerImageManifestMediaType":"application/vnd.docker.distribution.manifest.list.v2+json",` +
			`"dockerImageManifests":[{"digest":"sha256:5555555555555555555555555555555555555555555555555555555555555555","mediaType":"m","manifestSize":12,"architecture":"amd64","os":"linux"}],"dockerImageMetadata":null}`},
	{"an image served from a CRD is named by a dotted digest",
		`{"apiVersion":"image.openshift.io/v1","kind":"Image","metadata":{"name":"sha256.` + hex64 + `"},"dockerImageReference":"quay.io/a/b@sha256:` + hex64 + `","dockerImageManifestMediaType":"application/vnd.oci.image.manifest.v1+json","dockerImageMetadata":{"Id":"sha256:6666666666666666666666666666666666666666666666666666666666666666"}}`},
	{"an image whose metadata is not an object fails the same way",
		`{"apiVersion":"image.openshift.io/v1","kind":"Image","metadata":{"name":"sha256:` + hex64 + `"},"dockerImageMetadata":"not an object"}`},
	{"a limit range's smallest image storage limit is read",
		`{"apiVersion":"v1","kind":"LimitRange",` + metaJSON("ns", "lr") + `,"spec":{"limits":[{"type":"Container","max":{"cpu":"2","storage":"1Ki"}},` +
			`{"type":"openshift.io/Image","max":{"storage":"1.5Gi"},"min":{"storage":"1"}},{"type":"openshift.io/Image","max":{"storage":"500M","cpu":"1"}},{"type":"openshift.io/Image","max":{"cpu":"1"}},{"type":"openshift.io/Image"}]}}`},
	{"a limit range without limits has no size", `{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"lr2","namespace":"ns"},"spec":{}}`},
}

func TestFastDecodeMatchesTypedDecode(t *testing.T) {
	covered := map[schema.GroupVersionKind]bool{}
	for _, c := range fastDecodeCases {
		t.Run(c.name, func(t *testing.T) {
			apiVersion, kind, err := typeOf([]byte(c.obj))
			if err != nil {
				t.Fatal(err)
			}
			gv, _ := schema.ParseGroupVersion(apiVersion)
			if !slim.Known(gv.WithKind(kind)) {
				t.Fatalf("%s %s is not decoded fast", apiVersion, kind)
			}
			covered[gv.WithKind(kind)] = true
			fastObj, typedObj := compareDecodes(t, []byte(c.obj))
			if fastObj.id == "" || typedObj.id == "" {
				t.Fatalf("no id: fast %q, typed %q", fastObj.id, typedObj.id)
			}
		})
	}
	for _, gvk := range slim.Kinds() {
		if !covered[gvk] {
			t.Errorf("no case decodes %s", gvk)
		}
	}
}

func TestFastDecodeMatchesTypedDecodeOnSyntheticCluster(t *testing.T) {
	cl, err := synth.Generate(synth.Options{Size: synth.Small, Seed: 3, Now: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := synth.WriteDump(&buf, cl); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	err = readDump(&buf, func(raw []byte) error {
		fastObj, _ := compareDecodes(t, raw)
		kinds[fastObj.kind]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Pod", "Image", "ImageStream", "Deployment", "BuildConfig", "LimitRange"} {
		if kinds[k] == 0 {
			t.Errorf("the synthetic cluster has no %s; compared %v", k, kinds)
		}
	}
}

// compareDecodes decodes raw both ways and fails unless both extract the same; an object that
// does not decode must fail both ways.
func compareDecodes(t *testing.T, raw []byte) (fastObj, typedObj dumpObject) {
	t.Helper()
	scheme := extract.NewScheme()
	fastObj, fastErr := dumpTypes{scheme: scheme}.object(raw)
	typedObj, typedErr := dumpTypes{scheme: scheme, full: true}.object(raw)
	if (fastErr == nil) != (typedErr == nil) {
		t.Fatalf("fast decode error %v, typed decode error %v for %s", fastErr, typedErr, raw)
	}
	if got, want := describeObject(fastObj), describeObject(typedObj); got != want {
		t.Errorf("fast decode of %.200s\n got %s\nwant %s", raw, got, want)
	}
	if !reflect.DeepEqual(fastObj.res, typedObj.res) {
		t.Errorf("fast decode of %.200s extracts\n%#v\nnot\n%#v", raw, fastObj.res, typedObj.res)
	}
	return fastObj, typedObj
}

func describeObject(o dumpObject) string {
	var b strings.Builder
	fmt.Fprintf(&b, "id=%q kind=%q ns=%q name=%q err=%v", o.id, o.kind, o.namespace, o.name, o.err)
	return b.String()
}

func TestFastDecodeRefusesWhatTheTypedDecodeRefuses(t *testing.T) {
	cases := []struct{ name, obj string }{
		{"a container list that is not a list", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":"x"}}`},
		{"a name that is not a string", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":3}}`},
		{"a creation time that is not a time", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","creationTimestamp":"yesterday"}}`},
		{"a generation beyond int64", `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"s"},"status":{"tags":[{"tag":"t","items":[{"generation":1e30}]}]}}`},
		{"a layer size that is a string", `{"apiVersion":"image.openshift.io/v1","kind":"Image","metadata":{"name":"i"},"dockerImageLayers":[{"name":"x","size":"1"}]}`},
		{"a quantity that does not parse", `{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"l"},"spec":{"limits":[{"type":"openshift.io/Image","max":{"storage":"lots"}}]}}`},
	}
	scheme := extract.NewScheme()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := (dumpTypes{scheme: scheme, full: true}).object([]byte(c.obj)); err == nil {
				t.Fatalf("the typed decode accepts %s; the case tests nothing", c.obj)
			}
			if _, err := (dumpTypes{scheme: scheme}).object([]byte(c.obj)); err == nil {
				t.Fatalf("the fast decode accepts %s", c.obj)
			}
		})
	}
}
