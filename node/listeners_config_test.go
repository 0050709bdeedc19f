package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoadListeners: listeners, mechanisms and the re-authentication
// limit come from YAML, and each mistake is refused naming the setting.
func TestLoadListeners(t *testing.T) {
	load := func(body string) (Config, error) {
		path := filepath.Join(t.TempDir(), "shale.yaml")
		os.WriteFile(path, []byte(body), 0o644)
		cfg := DefaultConfig()
		if err := cfg.LoadFile(path); err != nil {
			return cfg, err
		}
		return cfg, cfg.Validate()
	}
	cfg, err := load(`
broker:
  listeners:
    - name: CLIENT
      listen: 0.0.0.0:9093
      advertised: b1.example:9093
      security_protocol: SASL_SSL
      tls: {cert_file: /c.pem, key_file: /k.pem}
    - name: PLAINTEXT
      listen: 127.0.0.1:9092
  sasl_enabled_mechanisms: [SCRAM-SHA-512]
  connections_max_reauth: 1h
`)
	if err != nil {
		t.Fatal(err)
	}
	ls := cfg.Broker.ListenerConfigs()
	if len(ls) != 2 || ls[0].TLS.CertFile != "/c.pem" || ls[1].Name != "PLAINTEXT" ||
		cfg.Broker.ConnectionsMaxReauth != time.Hour || len(cfg.Broker.SASLMechanisms) != 1 {
		t.Fatalf("loaded %+v", cfg.Broker)
	}
	// Without listeners: the one listener of listen and tls.
	if ls := DefaultConfig().Broker.ListenerConfigs(); len(ls) != 1 || ls[0].Name != "PLAINTEXT" || ls[0].Listen != "127.0.0.1:9092" {
		t.Fatalf("default listeners %+v", ls)
	}
	for want, body := range map[string]string{
		"needs tls cert_file":            "broker:\n  listeners: [{name: A, listen: ':1', security_protocol: SSL}]\n",
		"does not speak TLS":             "broker:\n  listeners: [{name: PLAINTEXT, listen: ':1', tls: {cert_file: c, key_file: k}}]\n",
		"security_protocol is required":  "broker:\n  listeners: [{name: CLIENT, listen: ':1'}]\n",
		"want PLAINTEXT, SSL":            "broker:\n  listeners: [{name: CLIENT, listen: ':1', security_protocol: KERBEROS}]\n",
		"named twice":                    "broker:\n  listeners: [{name: PLAINTEXT, listen: ':1'}, {name: PLAINTEXT, listen: ':2'}]\n",
		"listener name":                  "broker:\n  listeners: [{name: lower, listen: ':1', security_protocol: PLAINTEXT}]\n",
		"is not served":                  "broker:\n  sasl_enabled_mechanisms: [GSSAPI]\n  listeners: [{name: SASL_PLAINTEXT, listen: ':1'}]\n",
		"give each SSL":                  "broker:\n  tls: {cert_file: c, key_file: k}\n  listeners: [{name: PLAINTEXT, listen: ':1'}]\n",
		"connections_max_reauth":         "broker:\n  connections_max_reauth: -1s\n",
		"unspecified host":               "broker:\n  listeners: [{name: PLAINTEXT, listen: ':1', advertised: '0.0.0.0:1'}]\n",
		"a SASL listener needs at least": "broker:\n  sasl_enabled_mechanisms: []\n  listeners: [{name: SASL_PLAINTEXT, listen: ':1'}]\n",
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", body, err, want)
		}
	}
}
