package node

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestConfigAuthorizerYAML: the authorizer and principal mapping settings
// as docs/CONFIG.md shows them.
func TestConfigAuthorizerYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shale.yaml")
	yaml := `broker:
  tls:
    cert_file: /etc/shale/broker.pem
    key_file: /etc/shale/broker-key.pem
    client_ca_file: /etc/shale/clients-ca.pem
    principal_mapping_rules: ['RULE:^CN=([^,]+),.*$/$1/L', DEFAULT]
  authorizer:
    enabled: true
    super_users: [User:admin, "User:CN=broker-1,O=Acme"]
    allow_everyone_if_no_acl_found: false
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if cfg.Broker.Authorizer.Enabled {
		t.Fatal("the authorizer is on by default")
	}
	if err := cfg.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	a := cfg.Broker.Authorizer
	if !a.Enabled || !slices.Equal(a.SuperUsers, []string{"User:admin", "User:CN=broker-1,O=Acme"}) || a.AllowEveryoneIfNoACLFound {
		t.Fatalf("authorizer %+v", a)
	}
	if got := cfg.Broker.TLS.PrincipalMappingRules; len(got) != 2 || got[1] != "DEFAULT" {
		t.Fatalf("principal mapping rules %q", got)
	}
	if err := cfg.Broker.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Broker.Authorizer.SuperUsers = []string{"admin"}
	if err := cfg.Broker.Validate(); err == nil {
		t.Fatal("a super user without a principal type was accepted")
	}
	cfg.Broker.Authorizer.SuperUsers = nil
	cfg.Broker.TLS.PrincipalMappingRules = []string{"RULE:oops"}
	if err := cfg.Broker.Validate(); err == nil {
		t.Fatal("a malformed mapping rule was accepted")
	}
}
