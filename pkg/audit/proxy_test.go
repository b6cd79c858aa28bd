package audit_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/pruneguard/pruneguard/pkg/audit"
)

// checkServiceProxy serves the API on a non-loopback address (the API server refuses to proxy
// to loopback), publishes it as the chart does (Service pruneguard/pruneguard, port
// https-api) with a hand-made EndpointSlice and pod (envtest runs no controllers), and runs the CLI
// without --server: through the kubeconfig's API server, with the token in TokenHeader.
func checkServiceProxy(t *testing.T, c *cluster, token string) {
	ip := nonLoopbackIPv4()
	if ip == nil {
		t.Skip("no non-loopback IPv4 address to serve on")
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Skip(err)
	}
	authz := audit.NewKubeAuthorizer(c.env.Client, audit.KubeAuthorizerOptions{})
	srv := httptest.NewUnstartedServer(audit.NewHandler(c.ix, authz, audit.HandlerOptions{}))
	srv.Listener = l
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := int32(l.Addr().(*net.TCPAddr).Port)
	ns, name := audit.DefaultServiceNamespace, audit.DefaultServiceName
	mustCreate(t, c.env.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	mustCreate(t, c.env.Client, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: audit.DefaultServicePort, Port: 8443, TargetPort: intstr.FromInt32(port)}}}})
	// The API server proxies only to endpoints that are pods with the endpoint's address.
	p := podObject(ns, name+"-0", map[string]string{"serve": "pruneguard"})
	p.TypeMeta, p.CreationTimestamp, p.Status = metav1.TypeMeta{}, metav1.Time{}, corev1.PodStatus{}
	mustCreate(t, c.env.Client, p)
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip.String(), PodIPs: []corev1.PodIP{{IP: ip.String()}}}
	if err := c.env.Client.Status().Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, c.env.Client, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-api", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{ip.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: p.Name}}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr(audit.DefaultServicePort), Port: ptr(port)}},
	})
	// The API server may learn of the endpoints through a watch: retry a few seconds.
	var code int
	var out, errOut string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code, out, errOut = runCLI("refs", c.web.Digest, "-n", "shop", "--kubeconfig", c.env.Kubeconfig, "--token", token); !strings.Contains(errOut, "no endpoints") {
			break
		}
	}
	if code != 0 || !strings.Contains(out, "front") || strings.Contains(out, "batch") {
		t.Errorf("refs through the service proxy: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI("refs", c.web.Digest, "-n", "team", "--kubeconfig", c.env.Kubeconfig, "--token", token)
	if code != 1 || !strings.Contains(errOut, "forbidden") {
		t.Errorf("refs of another namespace through the service proxy: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCLI("refs", c.web.Digest, "--kubeconfig", c.env.Kubeconfig)
	if code != 1 || !strings.Contains(errOut, "no bearer token") {
		t.Errorf("a certificate-only kubeconfig without --token: exit %d, %s", code, errOut)
	}
}

func nonLoopbackIPv4() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP
		}
	}
	return nil
}
