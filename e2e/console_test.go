package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kgo"
)

// renderHeadless loads url in headless Chromium and returns the DOM after
// its scripts ran.
func renderHeadless(t *testing.T, chromium, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=2000", "--dump-dom", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, stderr.String())
	}
	return string(out)
}

// screenshot stores a PNG of the page at url as a test artefact under
// $SHALE_TEST_ARTIFACTS (default ../test-artifacts)/console, named after
// path, for a person to look at; only a failure to take it fails the test.
func screenshot(t *testing.T, chromium, url, path string) {
	t.Helper()
	dir := os.Getenv("SHALE_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "test-artifacts")
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := strings.Trim(strings.NewReplacer("/", "_", "?", "_", "&", "_", "=", "-").Replace(path), "_")
	if name == "" {
		name = "cluster"
	}
	file, err := filepath.Abs(filepath.Join(dir, name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=2000", "--hide-scrollbars",
		"--window-size=1280,900", "--screenshot="+file, url)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium screenshot of %s: %v\n%s", url, err, out)
	}
	if st, err := os.Stat(file); err != nil || st.Size() == 0 {
		t.Fatalf("chromium wrote no screenshot of %s to %s: %v", url, file, err)
	}
}

// TestConsoleRendersInChromium: with --console every page of the web
// console renders in headless Chromium with its script run and shows what
// the test made: brokers, a topic with its partitions' range bars, a
// consumer group's lag, the cost meter, and records in the message
// browser (keys, values, headers). Without --console there is none.
func TestConsoleRendersInChromium(t *testing.T) {
	chromium := shaletest.RequireTool(t, "chromium")
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Observe.MetricsListen = "127.0.0.1:0"
		c.Observe.Console = true
	})
	shaletest.CreateTopic(t, n.Addr(), "shown", 2, nil)
	cl := shaletest.Client(t, n.Addr(), kgo.ConsumerGroup("viewers"), kgo.ConsumeTopics("shown"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 20 {
		r := &kgo.Record{Topic: "shown", Partition: 0, Key: []byte("key-" + string(rune('a'+i))), Value: []byte("value <b>" + string(rune('a'+i)) + "</b>"),
			Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("console-test")}}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for got < 5 {
		fs := cl.PollRecords(ctx, 5)
		if ctx.Err() != nil {
			t.Fatal("no records")
		}
		got += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}

	// The numbers the pages show are the admin API's.
	adm := shaletest.Admin(t, n.Addr())
	ends, err := adm.ListEndOffsets(ctx, "shown")
	if err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, "shown")
	if err != nil {
		t.Fatal(err)
	}
	offs, err := adm.FetchOffsets(ctx, "viewers")
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup("shown", 0)
	start, _ := starts.Lookup("shown", 0)
	committed, _ := offs.Lookup("shown", 0)
	lag := end.Offset - committed.At
	cell := func(vs ...int64) string {
		var b strings.Builder
		for _, v := range vs {
			fmt.Fprintf(&b, `<td class="n">%d</td>`, v)
		}
		return b.String()
	}

	base := "http://" + n.MetricsAddr()
	for path, wants := range map[string][]string{
		"/":             {`id="brokers"`, n.Addr(), "live", "Leader"},
		"/topics":       {`id="topics"`, `href="/topics/shown"`, `class="bar"`},
		"/topics/shown": {`id="partitions"`, "browse", `class="cold"`, cell(start.Offset, end.Offset)},
		"/groups":       {"viewers", "shown", fmt.Sprintf("lag %d", lag), cell(committed.At, end.Offset, lag)},
		"/cost":         {`id="cost"`, "shown", "(cluster)", "(total)"},
		"/browse":       {`id="browse-form"`, "<option>shown</option>"},
		"/browse?topic=shown&partition=0&offset=3": {`id="records"`, "key-d", "value &lt;b&gt;d&lt;/b&gt;", "origin=console-test", `id="next"`},
		"/browse?topic=shown&partition=9":          {`id="browse-error"`, "no partition shown/9"},
		"/browse?topic=shown&offset=x":             {`id="browse-error"`, `offset "x"`},
	} {
		dom := renderHeadless(t, chromium, base+path)
		screenshot(t, chromium, base+path, path)
		if !strings.Contains(dom, `data-script="ran"`) {
			t.Errorf("%s: the page's script did not run:\n%.2000s", path, dom)
		}
		for _, w := range wants {
			if !strings.Contains(dom, w) {
				t.Errorf("%s: rendered page lacks %q:\n%.3000s", path, w, dom)
			}
		}
		if strings.Contains(dom, "<b>d</b>") {
			t.Errorf("%s: a record value was not escaped", path)
		}
	}
	resp, err := http.Get(base + "/topics/none")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /topics/none: %s", resp.Status)
	}

	plain := shaletest.StartNode(t, func(c *node.Config) { c.Observe.MetricsListen = "127.0.0.1:0" })
	resp, err = http.Get("http://" + plain.MetricsAddr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("console served without --console: %s", resp.Status)
	}
}
