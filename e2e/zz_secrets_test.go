package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestZZNoSecretInAnyLog runs after the other tests (files run in name order) and reads
// every log the processes of this run wrote — worker, ingress, Temporal — looking for any
// configured secret: app secret, tokens, the encryption key, the page access token.
func TestZZNoSecretInAnyLog(t *testing.T) {
	s := requireStack(t)
	files, err := filepath.Glob(filepath.Join(logsDir, "*.log"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no process logs found in %s: %v", logsDir, err)
	}
	scanned := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scanned += len(data)
		for name, secret := range s.secrets {
			if secret != "" && strings.Contains(string(data), secret) {
				t.Errorf("%s appears in %s", name, filepath.Base(f))
			}
		}
	}
	t.Logf("scanned %d log files, %d bytes, for %d secrets", len(files), scanned, len(s.secrets))
	if scanned < 1000 {
		t.Fatalf("only %d bytes of logs: the scan would prove nothing", scanned)
	}
}
