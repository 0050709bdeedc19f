package terraform

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/proc"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// renderRoot is a root module calling shale-config twice: "boot", a
// three-node cluster on loopback (each node a controller and a broker,
// each with its own ports and data directory, one file object store) with
// one more node that is a broker only, and
// "aws", the AWS module's shape (three dedicated controllers, a broker at
// a known address and the autoscaled broker template).
const renderRoot = `
module "boot" {
  source = "./shale-config"

  cluster_name            = "boot-test"
  controllers_are_brokers = true
  listen_host             = "127.0.0.1"
  object_store_url        = %q
  wal_max_bytes           = "64MiB"
  wal_segment_max_age     = "50ms"
  session_timeout         = "2s"
  log_format              = "text"
  controllers = [
%s  ]
  brokers = [
%s  ]
}

module "aws" {
  source = "./shale-config"

  cluster_name   = "prod-a"
  bucket         = "shale-prod"
  prefix         = "cluster-a"
  region         = "eu-west-1"
  controllers    = [{ id = 1, host = "10.0.1.10" }, { id = 2, host = "10.0.2.10" }, { id = 3, host = "10.0.3.10" }]
  brokers        = [{ id = 101, host = "10.0.1.20" }]
  cache_bytes    = "8GiB"
  release_s3_uri = "s3://shale-prod/releases/shale-v1.2.3-linux-amd64.tar.gz"
}

output "boot_configs" {
  value = module.boot.node_configs
}
output "boot_unit" {
  value = module.boot.systemd_unit
}
output "boot_nodes" {
  value = module.boot.nodes
}
output "boot_bootstrap" {
  value = module.boot.bootstrap_servers
}
output "aws_configs" {
  value = module.aws.node_configs
}
output "aws_broker_template" {
  value = module.aws.broker_config_template
}
output "aws_install_scripts" {
  value = module.aws.install_scripts
}
`

type bootNode struct {
	ID      int    `json:"id"`
	Roles   string `json:"roles"`
	Kafka   string `json:"kafka"`
	Raft    string `json:"raft"`
	Metrics string `json:"metrics"`
}

type rendered struct {
	BootConfigs       map[string]string
	BootUnit          string
	BootNodes         map[string]bootNode
	BootBootstrap     string
	AWSConfigs        map[string]string
	AWSBrokerTemplate string
	AWSInstallScripts map[string]string
}

// render applies renderRoot for a loopback cluster at the given ports
// (three per node: Kafka, Raft, metrics; nodes 1 to 3 controllers, node 4
// a broker) and returns its outputs.
func render(t *testing.T, work string, ports []int) rendered {
	t.Helper()
	bin := tofu(t)
	root := filepath.Join(work, "render")
	copyDir(t, "modules/shale-config", filepath.Join(root, "shale-config"))
	var controllers, brokers strings.Builder
	for i := range bootNodes {
		w := &controllers
		if i >= 3 {
			w = &brokers
		}
		fmt.Fprintf(w, "    { id = %d, host = \"127.0.0.1\", kafka_port = %d, raft_port = %d, metrics_port = %d, data_dir = %q },\n",
			i+1, ports[3*i], ports[3*i+1], ports[3*i+2], filepath.Join(work, fmt.Sprintf("data-%d", i+1)))
	}
	main := fmt.Sprintf(renderRoot, "file://"+filepath.Join(work, "objects"), controllers.String(), brokers.String())
	if err := os.WriteFile(filepath.Join(root, "main.tf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-input=false"}, {"apply", "-auto-approve", "-input=false"}} {
		if out, err := tofuCmd(t, bin, root, args...); err != nil {
			t.Fatalf("tofu %s: %v\n%s", args[0], err, out)
		}
	}
	out, err := tofuCmd(t, bin, root, "output", "-json")
	if err != nil {
		t.Fatalf("tofu output: %v\n%s", err, out)
	}
	var raw map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("tofu output -json: %v\n%s", err, out)
	}
	var r rendered
	for name, dst := range map[string]any{"boot_configs": &r.BootConfigs, "boot_unit": &r.BootUnit, "boot_nodes": &r.BootNodes,
		"boot_bootstrap": &r.BootBootstrap, "aws_configs": &r.AWSConfigs, "aws_broker_template": &r.AWSBrokerTemplate,
		"aws_install_scripts": &r.AWSInstallScripts} {
		if err := json.Unmarshal(raw[name].Value, dst); err != nil {
			t.Fatalf("output %s: %v", name, err)
		}
	}
	return r
}

// loadConfig writes a rendered shale.yaml to path and loads it as `shale
// broker --config` does: unknown keys refused, then validated.
func loadConfig(t *testing.T, path, content string) node.Config {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := node.DefaultConfig()
	if err := cfg.LoadFile(path); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, content)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("%s does not validate: %v\n%s", path, err, content)
	}
	return cfg
}

// bootNodes is the size of the loopback cluster: three controllers that
// are brokers too, and a broker.
const bootNodes = 4

// TestRenderedClusterBoots renders shale.yaml and the systemd unit of a
// three-node cluster and one more broker through modules/shale-config,
// writes exactly those
// files, starts each node as a real process with the unit's ExecStart
// command (its binary the one built from this tree, its --config the
// node's file), waits for /readyz on each metrics listener, then creates
// a topic, produces with acks=all and consumes everything back with
// franz-go through the rendered bootstrap servers. It also loads every
// configuration of the AWS shape (dedicated controllers, a broker, the
// autoscaled broker template as its user data fills it in) as the binary
// does.
func TestRenderedClusterBoots(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	t.Parallel()
	// Built first, so that the ports picked below are bound soon after.
	shale := proc.Binary(t)
	work := t.TempDir()
	ports, err := proc.FreePorts(3 * bootNodes)
	if err != nil {
		t.Fatal(err)
	}
	r := render(t, work, ports)

	// The AWS shape: every file the binary would read loads and validates.
	for name, content := range r.AWSConfigs {
		cfg := loadConfig(t, filepath.Join(work, "aws", name+".yaml"), content)
		wantRoles := map[bool]string{true: "controller", false: "broker"}[strings.HasPrefix(name, "controller-")]
		if cfg.Roles != wantRoles || cfg.ObjectStore != "s3://shale-prod/cluster-a?region=eu-west-1" {
			t.Errorf("%s: roles %q, object store %q", name, cfg.Roles, cfg.ObjectStore)
		}
	}
	filled := strings.NewReplacer("@@NODE_ID@@", "3343", "@@HOST@@", "10.0.13.7").Replace(r.AWSBrokerTemplate)
	tmpl := loadConfig(t, filepath.Join(work, "aws", "broker-template.yaml"), filled)
	if tmpl.Broker.NodeID != 3343 || tmpl.Broker.Advertised != "10.0.13.7:9092" || tmpl.Metadata.RaftAdvertise != "10.0.13.7:9093" || tmpl.Roles != "broker" {
		t.Errorf("the autoscaled broker's filled-in template: %+v", tmpl)
	}

	// The first-boot scripts are shell the host can parse.
	for name, script := range r.AWSInstallScripts {
		path := filepath.Join(work, "aws", name+"-install.sh")
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", name, err, out)
		}
	}
	if len(r.AWSInstallScripts) != 5 {
		t.Errorf("install scripts for %d nodes, want 5 (three controllers, a broker, the template)", len(r.AWSInstallScripts))
	}

	// The unit's command.
	var execStart []string
	for _, line := range strings.Split(r.BootUnit, "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = strings.Fields(rest)
		}
	}
	if !slices.Equal(execStart, []string{"/usr/local/bin/shale", "broker", "--config", "/etc/shale/shale.yaml"}) {
		t.Fatalf("ExecStart of the rendered unit: %q", execStart)
	}

	if len(r.BootConfigs) != bootNodes {
		t.Fatalf("rendered %d configurations, want %d", len(r.BootConfigs), bootNodes)
	}
	var procs []*proc.Process
	for i := range bootNodes {
		name, roles := fmt.Sprintf("controller-%d", i+1), "controller,broker"
		if i >= 3 {
			name, roles = fmt.Sprintf("broker-%d", i+1), "broker"
		}
		path := filepath.Join(work, "etc", name, "shale.yaml")
		cfg := loadConfig(t, path, r.BootConfigs[name])
		if cfg.Roles != roles || cfg.Broker.Advertised != "127.0.0.1:"+strconv.Itoa(ports[3*i]) {
			t.Fatalf("%s: roles %q, advertised %q", name, cfg.Roles, cfg.Broker.Advertised)
		}
		args := slices.Clone(execStart[1:])
		args[len(args)-1] = path
		procs = append(procs, proc.Start(t, proc.Cmd{Name: name, Path: shale, Args: args}))
	}
	bootstrap := strings.Split(r.BootBootstrap, ",")
	if len(bootstrap) != bootNodes {
		t.Fatalf("bootstrap servers %q, want %d", r.BootBootstrap, bootNodes)
	}
	for i, p := range procs {
		addr := "127.0.0.1:" + strconv.Itoa(ports[3*i])
		if !slices.Contains(bootstrap, addr) {
			t.Fatalf("bootstrap servers %q lack %s", r.BootBootstrap, addr)
		}
		if err := p.WaitTCP(addr, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for name, n := range r.BootNodes {
		i := slices.IndexFunc(procs, func(p *proc.Process) bool { return p.Cmd.Name == name })
		if i < 0 {
			t.Fatalf("no process for node %s", name)
		}
		waitReady(t, procs[i], n.Metrics)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.DefaultProduceTopic("deploy"), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// Every broker registered and live before the topic exists, so that
	// its partitions' leaders (the least loaded live brokers) include the
	// broker-only node. Each try is a Metadata request of its own: kadm's
	// BrokerMetadata answers from the client's broker list once it has
	// one, so a broker missing from the first answer (a node that had not
	// applied its registration yet) would stay missing.
	for {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{}
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && len(resp.Brokers) == bootNodes {
			break
		}
		if ctx.Err() != nil {
			var brokers []kmsg.MetadataResponseBroker
			if resp != nil {
				brokers = resp.Brokers
			}
			t.Fatalf("brokers in metadata: %v, %v", brokers, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for {
		resp, err := adm.CreateTopic(ctx, bootNodes, 1, nil, "deploy")
		if err == nil {
			err = resp.Err
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("create topic: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The topic as the brokers see it once they follow its creation.
	var partitions kadm.PartitionDetails
	for {
		meta, err := adm.Metadata(ctx, "deploy")
		if err == nil && meta.Topics["deploy"].Err == nil && len(meta.Topics["deploy"].Partitions) == bootNodes {
			partitions = meta.Topics["deploy"].Partitions
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("metadata of the new topic: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	leaders := map[int32]bool{}
	for _, p := range partitions {
		leaders[p.Leader] = true
	}
	if !leaders[bootNodes] {
		t.Errorf("the broker-only node %d leads no partition of %v", bootNodes, partitions)
	}
	const n = 300
	var records []*kgo.Record
	for i := range n {
		records = append(records, &kgo.Record{Key: []byte(strconv.Itoa(i % 7)), Value: []byte(fmt.Sprintf("record-%03d", i))})
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.ConsumeTopics("deploy"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	seen := map[string]bool{}
	for len(seen) < n {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", len(seen), n, ctx.Err())
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(rec *kgo.Record) { seen[string(rec.Value)] = true })
	}
	for i := range n {
		if !seen[fmt.Sprintf("record-%03d", i)] {
			t.Errorf("record-%03d was not consumed", i)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "objects")); err != nil {
		t.Errorf("the rendered object store holds nothing: %v", err)
	}
}

// waitReady polls a node's /readyz (the bootstrap load balancer's health
// check) until it answers 200, for at most a minute, and fails at once
// with the end of its log if the process exits.
func waitReady(t *testing.T, p *proc.Process, addr string) {
	t.Helper()
	name := p.Cmd.Name
	if _, _, err := net.SplitHostPort(addr); err != nil {
		t.Fatalf("%s: metrics address %q: %v", name, addr, err)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if p.Exited() {
			t.Fatalf("%s exited before /readyz on %s answered; last lines:\n%s", name, addr, p.LogTail(40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /readyz on %s: %v", name, addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
