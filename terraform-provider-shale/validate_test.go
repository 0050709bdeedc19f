package main

import (
	"testing"
)

// TestProviderValidation: `tofu validate` refuses bad attribute values
// before anything reaches a cluster, each with a diagnostic that says
// what is accepted. No cluster runs: validation happens before the
// provider connects.
func TestProviderValidation(t *testing.T) {
	w := newWorkspace(t)
	cases := []struct {
		name  string
		body  string
		wants []string
	}{
		{"no partitions", `
resource "shale_topic" "t" {
  name       = "orders"
  partitions = 0
}`, []string{"Value out of range", "0 is out of range: the value must be between 1 and"}},
		{"bad topic name", `
resource "shale_topic" "t" {
  name       = "orders/eu"
  partitions = 1
}`, []string{"Invalid topic name", "use only a-z, A-Z, 0-9, '.', '_' and '-'"}},
		{"bad config key", `
resource "shale_topic" "t" {
  name       = "orders"
  partitions = 1
  config     = { "Retention MS" = "1" }
}`, []string{"Invalid config name", `"Retention MS" is not a Kafka config name`}},
		{"replication factor zero", `
resource "shale_topic" "t" {
  name               = "orders"
  partitions         = 1
  replication_factor = 0
}`, []string{"Value out of range"}},
		{"unknown ACL operation", `
resource "shale_acl" "a" {
  resource_type = "TOPIC"
  resource_name = "orders"
  principal     = "User:alice"
  operation     = "READWRITE"
  permission    = "ALLOW"
}`, []string{"Unknown value", `"READWRITE" is not accepted here; use one of ALL, READ, WRITE`}},
		{"unknown ACL resource type", `
resource "shale_acl" "a" {
  resource_type = "SCHEMA"
  resource_name = "orders"
  principal     = "User:alice"
  operation     = "READ"
  permission    = "ALLOW"
}`, []string{`"SCHEMA" is not accepted here; use one of TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID`}},
		{"filter-only pattern", `
resource "shale_acl" "a" {
  resource_type = "TOPIC"
  resource_name = "orders"
  pattern_type  = "ANY"
  principal     = "User:alice"
  operation     = "READ"
  permission    = "ALLOW"
}`, []string{`"ANY" is not accepted here; use one of LITERAL, PREFIXED`}},
		{"principal without type", `
resource "shale_acl" "a" {
  resource_type = "TOPIC"
  resource_name = "orders"
  principal     = "alice"
  operation     = "READ"
  permission    = "MAYBE"
}`, []string{"Invalid principal", `write "Type:name"`, `"MAYBE" is not accepted here; use one of ALLOW, DENY`}},
		{"cluster resource name", `
resource "shale_acl" "a" {
  resource_type = "CLUSTER"
  resource_name = "prod"
  principal     = "User:alice"
  operation     = "ALTER"
  permission    = "ALLOW"
}`, []string{"Invalid cluster resource name", `A CLUSTER resource is named "kafka-cluster"`}},
		{"SCRAM iterations", `
resource "shale_user" "u" {
  name       = "alice"
  password   = "secret"
  iterations = 1000
}`, []string{"between 4096 and 16384", "Kafka accepts SCRAM iterations only in this range"}},
		{"SCRAM mechanism", `
resource "shale_user" "u" {
  name      = "alice"
  mechanism = "PLAIN"
  password  = "secret"
}`, []string{`"PLAIN" is not accepted here; use one of SCRAM-SHA-256, SCRAM-SHA-512`}},
		{"two passwords", `
resource "shale_user" "u" {
  name                = "alice"
  password            = "secret"
  password_wo         = "secret"
  password_wo_version = 1
}`, []string{"Set password or password_wo, not both"}},
		{"no password", `
resource "shale_user" "u" {
  name = "alice"
}`, []string{"No password"}},
		{"write-only password without version", `
resource "shale_user" "u" {
  name        = "alice"
  password_wo = "secret"
}`, []string{"password_wo without a version"}},
		{"unknown quota key", `
resource "shale_quota" "q" {
  user   = "alice"
  quotas = { produce_rate = 10 }
}`, []string{"Unknown quota", `"produce_rate" is not a client quota; use one of consumer_byte_rate, controller_mutation_rate, producer_byte_rate, request_percentage`}},
		{"fractional byte rate", `
resource "shale_quota" "q" {
  user   = "alice"
  quotas = { producer_byte_rate = 10.5 }
}`, []string{"a whole number; 10.5 is not"}},
		{"no quota entity", `
resource "shale_quota" "q" {
  quotas = { producer_byte_rate = 1024 }
}`, []string{"No quota entity"}},
		{"user and default user", `
resource "shale_quota" "q" {
  user         = "alice"
  user_default = true
  quotas       = { producer_byte_rate = 1024 }
}`, []string{"Both a user and the default user"}},
	}
	for _, c := range cases {
		w.config(`  bootstrap_servers = ["127.0.0.1:9"]`, c.body)
		out, code := w.run("validate", "-no-color")
		if code == 0 {
			t.Errorf("%s: validate accepted:\n%s", c.name, c.body)
			continue
		}
		for _, want := range c.wants {
			if !says(out, want) {
				t.Errorf("%s: validate does not say %q:\n%s", c.name, want, out)
			}
		}
	}

	// The provider block is validated too, at plan (validate leaves
	// provider blocks alone), before the provider connects anywhere.
	w.config(`
  bootstrap_servers = ["localhost", "host:99999"]
  timeout           = "soon"
  sasl = {
    mechanism = "GSSAPI"
    username  = "admin"
    password  = "secret"
  }`, `data "shale_cluster" "c" {}`)
	out, code := w.run("plan", "-no-color")
	if code == 0 {
		t.Fatalf("plan accepted a bad provider block:\n%s", out)
	}
	mustContain(t, "plan", out,
		`"localhost" is not "host:port"`,
		`"host:99999" has port "99999"`,
		`"soon" is not a duration`,
		`"GSSAPI" is not accepted here; use one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`)
}
