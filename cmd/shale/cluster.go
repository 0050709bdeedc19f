package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shalelog/shale/metadata"
)

// `shale cluster ...` and `shale partitions move` talk to the metadata
// quorum over the controller RPC (the raft port of any node: a controller
// or a broker); the request follows the raft leader. Exit codes are those
// of the other admin commands: 0 done, 1 failed, 2 bad arguments.

const clusterUsage = `Usage:
  shale cluster status    [--controller HOST:PORT] [--output table|json]
  shale cluster drain     BROKER [--controller HOST:PORT]   hand every partition of BROKER to others
  shale cluster undrain   BROKER [--controller HOST:PORT]
  shale cluster fence     BROKER [--controller HOST:PORT]   fence BROKER now (its partitions move at once)
  shale cluster remove    BROKER [--controller HOST:PORT]   forget a fenced or drained broker
  shale cluster rebalance [--controller HOST:PORT] [--force] spread partition leaders evenly
  shale partitions move TOPIC:PARTITION --to BROKER [--controller HOST:PORT] [--force]

--controller is the raft address of any node (default 127.0.0.1:9093).
Moves are graceful: the current leader uploads and commits its tail, then
hands over. --force moves at once (acks=1 data not yet uploaded is lost).
`

func runCluster(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, clusterUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub := args[0]
	fs := flag.NewFlagSet("shale cluster "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	controller := fs.String("controller", "127.0.0.1:9093", "raft address of any Shale node")
	tlsFiles := raftTLSFlags(fs)
	output := fs.String("output", "table", "table or json")
	force := fs.Bool("force", false, "move leaders at once instead of by graceful handover")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the quorum")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	req := metadata.AdminRequest{Op: sub, Force: *force}
	switch sub {
	case "status", "rebalance":
		if len(pos) != 0 {
			fmt.Fprintf(stderr, "shale cluster %s: unexpected argument %q\n", sub, pos[0])
			return exitUsage
		}
	case "drain", "undrain", "fence", "remove":
		if len(pos) != 1 {
			fmt.Fprintf(stderr, "shale cluster %s: want one BROKER id\n", sub)
			return exitUsage
		}
		id, err := strconv.ParseInt(pos[0], 10, 32)
		if err != nil || id < 0 {
			fmt.Fprintf(stderr, "shale cluster %s: broker id %q is not a non-negative integer\n", sub, pos[0])
			return exitUsage
		}
		req.Broker = int32(id)
	default:
		fmt.Fprintf(stderr, "shale cluster: unknown command %q\n\n%s", sub, clusterUsage)
		return exitUsage
	}
	if *output != "table" && *output != "json" {
		fmt.Fprintf(stderr, "shale cluster %s: --output %q: want table or json\n", sub, *output)
		return exitUsage
	}
	return clusterCall(*controller, tlsFiles, *timeout, req, *output, stdout, stderr)
}

// runPartitions serves `shale partitions move`.
func runPartitions(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "move" {
		fmt.Fprint(stderr, clusterUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("shale partitions move", flag.ContinueOnError)
	fs.SetOutput(stderr)
	controller := fs.String("controller", "127.0.0.1:9093", "raft address of any Shale node")
	tlsFiles := raftTLSFlags(fs)
	to := fs.Int("to", -1, "broker id of the new leader")
	force := fs.Bool("force", false, "move at once instead of by graceful handover")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the quorum")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "shale partitions move: want one TOPIC:PARTITION")
		return exitUsage
	}
	topic, p, ok := strings.Cut(pos[0], ":")
	part, err := strconv.ParseInt(p, 10, 32)
	if !ok || topic == "" || err != nil || part < 0 {
		fmt.Fprintf(stderr, "shale partitions move: %q: want TOPIC:PARTITION\n", pos[0])
		return exitUsage
	}
	if *to < 0 {
		fmt.Fprintln(stderr, "shale partitions move: --to BROKER is required")
		return exitUsage
	}
	req := metadata.AdminRequest{Op: "move-partition", Topic: topic, Partition: int32(part), Broker: int32(*to), Force: *force}
	return clusterCall(*controller, tlsFiles, *timeout, req, "json", stdout, stderr)
}

// parseInterleaved parses flags given before or after positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// raftTLSFiles are the certificate files the cluster commands present
// when the nodes speak TLS to each other (metadata.tls).
type raftTLSFiles struct{ cert, key, ca *string }

func raftTLSFlags(fs *flag.FlagSet) raftTLSFiles {
	return raftTLSFiles{
		cert: fs.String("raft-tls-cert", "", "PEM certificate of the cluster, when the nodes speak TLS (metadata.tls)"),
		key:  fs.String("raft-tls-key", "", "PEM private key of --raft-tls-cert"),
		ca:   fs.String("raft-tls-ca", "", "PEM CA of the nodes' raft certificates"),
	}
}

func (f raftTLSFiles) config() (*tls.Config, error) {
	if *f.cert == "" && *f.key == "" && *f.ca == "" {
		return nil, nil
	}
	p, err := metadata.LoadPeerTLS(*f.cert, *f.key, *f.ca, "")
	if err != nil {
		return nil, err
	}
	return p.Client, nil
}

func clusterCall(addr string, tlsFiles raftTLSFiles, timeout time.Duration, req metadata.AdminRequest, output string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	clientTLS, err := tlsFiles.config()
	if err != nil {
		fmt.Fprintf(stderr, "shale cluster %s: %v\n", req.Op, err)
		return exitUsage
	}
	res, err := metadata.AdminCallTLS(ctx, addr, req, clientTLS)
	if err != nil {
		fmt.Fprintf(stderr, "shale cluster %s: %v\n", req.Op, err)
		if errors.Is(err, metadata.ErrInvalidRequest) {
			return exitUsage
		}
		return exitFailed
	}
	if req.Op != "status" || output == "json" {
		fmt.Fprintln(stdout, string(res))
		return exitOK
	}
	var st metadata.ClusterStatus
	if err := json.Unmarshal(res, &st); err != nil {
		fmt.Fprintf(stderr, "shale cluster status: %v\n", err)
		return exitFailed
	}
	printStatus(stdout, st)
	return exitOK
}

func printStatus(w io.Writer, st metadata.ClusterStatus) {
	fmt.Fprintf(w, "cluster %s, metadata leader %d, applied index %d\n\n", st.ClusterID, st.Leader, st.Applied)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tRAFT ADDRESS\tROLE\tAPPLIED\tLAG")
	for _, c := range st.Controllers {
		role := "follower (non-voter)"
		if c.Voter {
			role = "voter"
		}
		if c.ID == strconv.Itoa(int(st.Leader)) {
			role = "voter, leader"
		}
		lag := strconv.FormatInt(c.Lag, 10)
		if c.Lag < 0 {
			lag = "unreachable"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", c.ID, c.Addr, role, c.Applied, lag)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tADDRESS\tSTATE\tINCARNATION\tLEADS\tHANDOVERS")
	for _, b := range st.Brokers {
		state := "live"
		switch {
		case b.Fenced:
			state = "fenced"
		case b.Draining:
			state = "draining"
		}
		fmt.Fprintf(tw, "%d\t%s:%d\t%s\t%d\t%d\t%d\n", b.ID, b.Host, b.Port, state, b.Incarnation, b.Leads, b.Handovers)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if len(st.Unhealthy) == 0 {
		fmt.Fprintln(w, "every partition has a live leader")
		return
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tEPOCH\tPROBLEM")
	for _, p := range st.Unhealthy {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", p.Topic, p.Partition, p.Leader, p.Epoch, p.Problem)
	}
	tw.Flush()
}
