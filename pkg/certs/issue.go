package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Lifetimes of what the keeper issues. The serving certificate is renewed when a third of its
// lifetime is left, the CA when less than two serving lifetimes are left, so a CA never expires
// under a serving certificate it signed.
const (
	DefaultCALifetime      = 5 * 365 * 24 * time.Hour
	DefaultServingLifetime = 90 * 24 * time.Hour
)

// Bundle is the CA and serving certificate the keeper keeps, as PEM.
type Bundle struct {
	CACert, CAKey []byte
	// CABundle is what API servers trust: the current CA, plus the previous one while a
	// replaced CA may still sign certificates in use.
	CABundle      []byte
	Cert, Key     []byte
	serving       *x509.Certificate
	ca            *x509.Certificate
	caKey, srvKey crypto.Signer
}

// Identity is what the serving certificate is issued for.
type Identity struct {
	DNSNames []string
	IPs      []net.IP
}

// ServiceIdentity returns the DNS names an API server uses to reach service in namespace.
func ServiceIdentity(service, namespace string) Identity {
	return Identity{DNSNames: []string{
		service, service + "." + namespace, service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
	}}
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func serial() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) }

// newCA issues a self-signed CA valid from now for lifetime.
func newCA(now time.Time, lifetime time.Duration) (*x509.Certificate, crypto.Signer, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "pruneguard-webhook-ca", Organization: []string{"pruneguard"}},
		NotBefore:             now.Add(-time.Hour), // tolerate clock skew between nodes
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// newServing issues a serving certificate for id signed by ca.
func newServing(now time.Time, lifetime time.Duration, id Identity, ca *x509.Certificate, caKey crypto.Signer) (*x509.Certificate, crypto.Signer, error) {
	if len(id.DNSNames) == 0 && len(id.IPs) == 0 {
		return nil, nil, errors.New("a serving certificate needs at least one DNS name or IP address")
	}
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	cn := "pruneguard-webhook"
	if len(id.DNSNames) > 0 {
		cn = id.DNSNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     id.DNSNames,
		IPAddresses:  id.IPs,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(lifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func keyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func (b *Bundle) encode(previousCA *x509.Certificate) error {
	var err error
	b.CACert = certPEM(b.ca)
	if b.CAKey, err = keyPEM(b.caKey); err != nil {
		return err
	}
	b.Cert = certPEM(b.serving)
	if b.Key, err = keyPEM(b.srvKey); err != nil {
		return err
	}
	b.CABundle = append([]byte(nil), b.CACert...)
	if previousCA != nil && !previousCA.Equal(b.ca) {
		b.CABundle = append(b.CABundle, certPEM(previousCA)...)
	}
	return nil
}

// parseBundle decodes and checks a bundle: the serving certificate must verify against the CA
// at now and match its key. Any failure means the bundle must be reissued.
func parseBundle(caCert, caKey, caBundle, cert, key []byte, now time.Time) (*Bundle, error) {
	b := &Bundle{CACert: caCert, CAKey: caKey, CABundle: caBundle, Cert: cert, Key: key}
	var err error
	if b.ca, err = parseCert(caCert); err != nil {
		return nil, fmt.Errorf("ca.crt: %w", err)
	}
	if b.serving, err = parseCert(cert); err != nil {
		return nil, fmt.Errorf("tls.crt: %w", err)
	}
	if b.caKey, err = parseKey(caKey); err != nil {
		return nil, fmt.Errorf("ca.key: %w", err)
	}
	if b.srvKey, err = parseKey(key); err != nil {
		return nil, fmt.Errorf("tls.key: %w", err)
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		return nil, fmt.Errorf("tls.crt does not match tls.key: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(b.ca)
	if _, err := b.serving.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now}); err != nil {
		return nil, fmt.Errorf("tls.crt does not verify against ca.crt: %w", err)
	}
	if !bytes.Contains(caBundle, bytes.TrimSpace(caCert)) {
		return nil, errors.New("the CA bundle does not hold ca.crt")
	}
	return b, nil
}

func parseCert(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("the key cannot sign")
	}
	return s, nil
}

// covers reports whether the serving certificate names everything in id.
func (b *Bundle) covers(id Identity) bool {
	for _, name := range id.DNSNames {
		if b.serving.VerifyHostname(name) != nil {
			return false
		}
	}
	for _, ip := range id.IPs {
		if b.serving.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	return true
}
