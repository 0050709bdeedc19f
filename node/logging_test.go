package node

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewLoggerJSONRedacts: log_format json writes one JSON object per
// line with the stable keys, and a key naming a secret never shows its
// value.
func TestNewLoggerJSONRedacts(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, "info", "json")
	log.Info("uploaded", LogKeyTopic, "orders", LogKeyPartition, 3, LogKeyObject, "wal/1/x.obj", LogKeyBroker, 1, "secret_access_key", "hunter2")
	log.Debug("hidden at info")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not one JSON line: %v\n%s", err, buf.String())
	}
	if m["topic"] != "orders" || m["partition"] != 3.0 || m["object"] != "wal/1/x.obj" || m["broker"] != 1.0 || m["secret_access_key"] != "[redacted]" {
		t.Fatalf("fields: %v", m)
	}
	if strings.Contains(buf.String(), "hunter2") || strings.Contains(buf.String(), "hidden") {
		t.Fatalf("leaked: %s", buf.String())
	}
	buf.Reset()
	NewLogger(&buf, "warn", "text").Warn("w", "password", "p")
	if !strings.Contains(buf.String(), "password=[redacted]") {
		t.Fatalf("text: %s", buf.String())
	}
}

// TestLoadFileObserveKeys: the metrics, log format and price table keys
// load from YAML.
func TestLoadFileObserveKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shale.yaml")
	os.WriteFile(path, []byte(`
metrics_listen: 127.0.0.1:9644
metrics_partition_labels: true
console: true
log_format: json
prices:
  class_a_per_1000: 0.0045
  storage_per_gb_month: 0.02
`), 0o644)
	cfg := DefaultConfig()
	if err := cfg.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	o := cfg.Observe
	if o.MetricsListen != "127.0.0.1:9644" || !o.MetricsPartitionLabels || !o.Console || o.LogFormat != "json" ||
		o.Prices.ClassAPer1000 != 0.0045 || o.Prices.ClassBPer1000 != 0.0004 || o.Prices.StoragePerGBMonth != 0.02 {
		t.Fatalf("observe config: %+v", o)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
