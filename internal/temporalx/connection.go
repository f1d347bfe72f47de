package temporalx

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/igdirect/bridge/config"
)

// applyConnection sets the connection settings of the configuration on opts: TLS, mutual
// TLS (a client certificate) and an API key (Temporal Cloud). The conversion is the Temporal
// SDK's contrib/envconfig — the rules of the temporal CLI, which reads the same variables:
// TLS is on when TEMPORAL_TLS says so, or when a certificate, a CA or an API key is set and
// TEMPORAL_TLS does not say false.
func applyConnection(opts *client.Options, cfg *config.Config) error {
	conn, err := connection(cfg)
	if err != nil {
		return err
	}
	opts.ConnectionOptions.TLS = conn.ConnectionOptions.TLS
	opts.ConnectionOptions.TLSDisabled = conn.ConnectionOptions.TLSDisabled
	if conn.Credentials != nil {
		opts.Credentials = conn.Credentials
	}
	return nil
}

func connection(cfg *config.Config) (client.Options, error) {
	p := envconfig.ClientConfigProfile{Address: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace,
		APIKey: cfg.TemporalAPIKey.Value()}
	t := &envconfig.ClientConfigTLS{
		ClientCertPath: cfg.TemporalTLSClientCertPath, ClientKeyPath: cfg.TemporalTLSClientKeyPath,
		ServerCACertPath: cfg.TemporalTLSServerCACertPath, ServerName: cfg.TemporalTLSServerName,
		DisableHostVerification: cfg.TemporalTLSDisableHostVerification,
	}
	switch strings.ToLower(cfg.TemporalTLS) {
	case "true", "1":
		p.TLS = t
	case "false", "0":
		t.Disabled = true
		p.TLS = t
	default:
		if t.ClientCertPath != "" || t.ClientKeyPath != "" || t.ServerCACertPath != "" || t.ServerName != "" || t.DisableHostVerification {
			p.TLS = t
		}
	}
	opts, err := p.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("Temporal connection (TEMPORAL_TLS_*, TEMPORAL_API_KEY): %w", err)
	}
	return opts, nil
}
