package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/igdirect/bridge/internal/devstack"
	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/workflows"
)

// TestMutualTLSToTheFrontend runs a cluster whose frontend demands client certificates
// (a throwaway CA made here), and the bridge configured for it only through the
// TEMPORAL_TLS_* variables of README: worker and ingress connect (the stack starts only once
// the worker polls), a conversation goes both ways, a client without a certificate and a
// plaintext client are refused, and the internal worker (schedules) still works through the
// internal frontend.
func TestMutualTLSToTheFrontend(t *testing.T) {
	requireStack(t)
	if _, err := devstack.LocateBinaries(filepath.Join(root, "bin"), true); err != nil {
		t.Skipf("needs the cluster binaries (make test builds them): %v", err)
	}
	certs := makeCerts(t)
	s, err := startStack("mtls", stackOptions{topology: devstack.TopologyCluster, clusterTLS: certs})
	require.NoError(t, err)
	t.Cleanup(s.stop)
	require.Contains(t, s.env, "TEMPORAL_TLS_CLIENT_CERT_PATH="+certs.ClientCert, "the bridge gets the certificate by environment")

	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "TLS Tester"})
	s.meta.UserSendsText(account, igsid, "over mutual TLS")
	room := waitRoom(t, s, igsid, 1)
	_, err = s.rc.AgentSend(room.ID, agentName, "answered over mutual TLS")
	require.NoError(t, err)
	eventually(t, 30*time.Second, "the reply on Instagram", func() bool {
		for _, txt := range sentTexts(s, igsid) {
			if txt == "Ana Agent: answered over mutual TLS" {
				return true
			}
		}
		return false
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	refused := func(opts client.ConnectionOptions) error {
		c, err := client.DialContext(ctx, client.Options{HostPort: s.st.TemporalAddress(), ConnectionOptions: opts})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
		return err
	}
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(certs.ClientCA)
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(ca))
	require.Error(t, refused(client.ConnectionOptions{TLS: &tls.Config{RootCAs: pool, ServerName: certs.ServerName}}),
		"a client without a certificate must be refused")
	require.Error(t, refused(client.ConnectionOptions{}), "a plaintext client must be refused")

	// The bridge's health-check schedule fires through the internal worker.
	h := s.tc.ScheduleClient().GetHandle(ctx, "instagram-health-check")
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
	eventually(t, time.Minute, "a health check started by the schedule", func() bool {
		resp, err := s.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowType = '%s'", workflows.HealthCheckWorkflowName)})
		return err == nil && len(resp.GetExecutions()) > 0
	})
}

// makeCerts writes a throwaway CA, a server certificate for localhost / 127.0.0.1 and a
// client certificate, all signed by the CA.
func makeCerts(t *testing.T) *devstack.FrontendTLS {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	writeKey := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		return write(name, "PRIVATE KEY", der)
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "igdirect test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (string, string) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		require.NoError(t, err)
		return write(cn+".pem", "CERTIFICATE", der), writeKey(cn+".key", k)
	}
	serverCert, serverKey := issue(2, "frontend", x509.ExtKeyUsageServerAuth, []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	clientCert, clientKey := issue(3, "bridge", x509.ExtKeyUsageClientAuth, nil, nil)
	return &devstack.FrontendTLS{ServerCert: serverCert, ServerKey: serverKey, ClientCA: write("ca.pem", "CERTIFICATE", caDER),
		ClientCert: clientCert, ClientKey: clientKey, ServerName: "localhost"}
}
