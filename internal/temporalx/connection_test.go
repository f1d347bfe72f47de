package temporalx

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/igdirect/bridge/config"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// withKey gives a configuration the encryption key every client needs (payloads are
// encrypted).
func withKey(c config.Config) *config.Config {
	c.TokenEncryptionKey = config.Secret(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	return &c
}

func TestNoSettingsMeansPlaintext(t *testing.T) {
	opts, err := Options(withKey(config.Config{TemporalAddress: "127.0.0.1:7233", TemporalNamespace: "default"}), quiet)
	require.NoError(t, err)
	require.Nil(t, opts.ConnectionOptions.TLS)
	require.Nil(t, opts.Credentials)
	require.Equal(t, "127.0.0.1:7233", opts.HostPort)
}

func TestTLSSettings(t *testing.T) {
	dir := t.TempDir()
	ca, _, _ := writeCert(t, dir, "localhost")
	for name, tc := range map[string]struct {
		cfg      config.Config
		tls      bool
		disabled bool
		creds    bool
	}{
		"TEMPORAL_TLS=true alone: system roots":        {cfg: config.Config{TemporalTLS: "true"}, tls: true},
		"a CA turns TLS on":                            {cfg: config.Config{TemporalTLSServerCACertPath: ca}, tls: true},
		"an API key turns TLS on (Temporal Cloud)":     {cfg: config.Config{TemporalAPIKey: "k"}, tls: true, creds: true},
		"TEMPORAL_TLS=false keeps an API key in clear": {cfg: config.Config{TemporalAPIKey: "k", TemporalTLS: "false"}, disabled: true, creds: true},
	} {
		t.Run(name, func(t *testing.T) {
			opts, err := Options(withKey(tc.cfg), quiet)
			require.NoError(t, err)
			require.Equal(t, tc.tls, opts.ConnectionOptions.TLS != nil)
			require.Equal(t, tc.disabled, opts.ConnectionOptions.TLSDisabled)
			require.Equal(t, tc.creds, opts.Credentials != nil)
		})
	}
	_, err := Options(withKey(config.Config{TemporalTLSClientCertPath: filepath.Join(dir, "missing.pem"),
		TemporalTLSClientKeyPath: filepath.Join(dir, "missing.key")}), quiet)
	require.ErrorContains(t, err, "TEMPORAL_TLS_")
	_, err = Options(withKey(config.Config{TemporalTLSClientCertPath: ca}), quiet)
	require.ErrorContains(t, err, "other must be present too", "a certificate without its key")
}

func TestConfigRefusesAnUnknownTLSValue(t *testing.T) {
	t.Setenv("TEMPORAL_TLS", "maybe")
	_, err := config.Load()
	require.ErrorContains(t, err, "TEMPORAL_TLS")
}

// workflowService answers GetSystemInfo (what the SDK asks when it connects) and records
// the metadata it was sent.
type workflowService struct {
	workflowservice.UnimplementedWorkflowServiceServer
	mu   sync.Mutex
	auth []string
}

func (w *workflowService) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	w.mu.Lock()
	w.auth = append(w.auth, md.Get("authorization")...)
	w.mu.Unlock()
	return &workflowservice.GetSystemInfoResponse{ServerVersion: "test"}, nil
}

// TestAPIKeyIsSentOverTLS: with TEMPORAL_API_KEY (and the server's CA, as a self-hosted
// frontend behind TLS would need), the client connects over TLS and sends the key as a
// bearer token, as Temporal Cloud expects.
func TestAPIKeyIsSentOverTLS(t *testing.T) {
	dir := t.TempDir()
	caPath, certPEM, keyPEM := writeCert(t, dir, "localhost")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	svc := &workflowService{}
	srv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	workflowservice.RegisterWorkflowServiceServer(srv, svc)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	cfg := withKey(config.Config{TemporalAddress: lis.Addr().String(), TemporalNamespace: "default",
		TemporalAPIKey: "tcld-key-123", TemporalTLSServerCACertPath: caPath, TemporalTLSServerName: "localhost"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg, quiet, 10*time.Second)
	require.NoError(t, err)
	c.Close()
	svc.mu.Lock()
	defer svc.mu.Unlock()
	require.Contains(t, svc.auth, "Bearer tcld-key-123")

	// The same server refuses a plaintext client.
	plain, err := client.DialContext(ctx, client.Options{HostPort: lis.Addr().String()})
	if err == nil {
		_, err = plain.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
		plain.Close()
	}
	require.Error(t, err)
}

// writeCert writes a self-signed certificate (its own CA) for host and returns the path
// of the certificate and the PEM of certificate and key.
func writeCert(t *testing.T, dir, host string) (string, []byte, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{host},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	p := filepath.Join(dir, host+".pem")
	require.NoError(t, os.WriteFile(p, certPEM, 0o600))
	return p, certPEM, keyPEM
}
