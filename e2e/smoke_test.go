package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestSmokeProduceConsume(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), "smoke", 3, nil)
	cl := shaletest.Client(t, n.Addr(), kgo.ConsumeTopics("smoke"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 100; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "smoke", Key: []byte{byte(i)}, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for got < 100 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("got %d of 100: %v", got, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		got += fs.NumRecords()
	}
}

// TestDebugListener: --debug-listen serves the runtime profiles on its own
// address, and the node runs without it by default.
func TestDebugListener(t *testing.T) {
	if n := shaletest.StartNode(t, nil); n.DebugAddr() != "" {
		t.Fatalf("debug listener on %s by default", n.DebugAddr())
	}
	n := shaletest.StartNode(t, func(c *node.Config) { c.DebugListen = "127.0.0.1:0" })
	resp, err := http.Get("http://" + n.DebugAddr() + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("GET goroutine profile: %s\n%.200s", resp.Status, body)
	}
	if n.DebugAddr() == n.Addr() {
		t.Fatal("debug listener shares the Kafka address")
	}
}
