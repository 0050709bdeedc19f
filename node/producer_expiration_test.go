package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProducerIDExpirationConfig(t *testing.T) {
	if d := time.Duration(DefaultConfig().ProducerIDExpiration); d != 24*time.Hour {
		t.Fatalf("default producer_id_expiration %v, want Kafka's 24h", d)
	}
	path := filepath.Join(t.TempDir(), "shale.yaml")
	os.WriteFile(path, []byte("producer_id_expiration: 90m\n"), 0o644)
	cfg := DefaultConfig()
	if err := cfg.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(cfg.ProducerIDExpiration); d != 90*time.Minute {
		t.Fatalf("producer_id_expiration %v from YAML, want 90m", d)
	}
	cfg.ProducerIDExpiration = Duration(time.Millisecond)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "producer_id_expiration") {
		t.Fatalf("1ms expiration: %v", err)
	}
	for exp, want := range map[time.Duration]time.Duration{
		24 * time.Hour: 10 * time.Minute, time.Minute: time.Minute, time.Second: time.Second,
	} {
		if got := producerSweepInterval(exp); got != want {
			t.Errorf("sweep interval for %v: %v, want %v", exp, got, want)
		}
	}
}
