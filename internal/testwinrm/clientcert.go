package testwinrm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// mutualAuth is the Authorization value of WS-Management's HTTPS mutual
// (client certificate) security profile.
const mutualAuth = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"

// certAuthority issues client certificates, as the CA a Windows host's
// certificate mapping trusts.
type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// IssueClientCertificate makes the server accept certificate
// authentication for certificates its own CA issues, issues one for user
// and writes it with its key to a 0600 PEM file, as a worker's "cert:"
// WinRM credential holds it; it returns the file's path. A certificate
// another server issued is refused, as an unmapped one is by WinRM.
func (s *Server) IssueClientCertificate(t testing.TB, user string) string {
	t.Helper()
	ca := s.clientCA.Load()
	if ca == nil {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("generate ca key: %v", err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stead-test-client-ca"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatalf("create ca certificate: %v", err)
		}
		cert, _ := x509.ParseCertificate(der)
		ca = &certAuthority{cert: cert, key: key}
		s.clientCA.Store(ca)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate client key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: user},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("create client certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal client key: %v", err)
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	path := filepath.Join(t.TempDir(), "winrm-client.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write client certificate: %v", err)
	}
	return path
}

// verifyClientCertificate checks that the request's TLS handshake carried
// a client certificate the server's CA issued for its user.
func (s *Server) verifyClientCertificate(r *http.Request) error {
	ca := s.clientCA.Load()
	if ca == nil {
		return errors.New("certificate authentication is not enabled")
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return errors.New("no client certificate")
	}
	leaf := r.TLS.PeerCertificates[0]
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return err
	}
	if _, known := s.users[leaf.Subject.CommonName]; !known {
		return errors.New("the certificate maps to no user")
	}
	return nil
}
