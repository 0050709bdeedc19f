package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shalelog/shale/node"
)

// runDevCluster is `shale dev --cluster N`: N nodes in this process, each
// a controller and a broker, on loopback, sharing one file object store
// under the data dir. With --listen HOST:P node i serves Kafka on P+i and
// raft on P+100+i; with port 0 every port is picked free.
func runDevCluster(base node.Config, n int) int {
	if n != 3 && n != 5 {
		fmt.Fprintf(os.Stderr, "shale dev: --cluster %d: use 3 or 5 (a quorum needs an odd number of controllers)\n", n)
		return 2
	}
	host, portStr, err := net.SplitHostPort(base.Broker.Listen)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || port < 0 || port+100+n > 65535 {
		fmt.Fprintf(os.Stderr, "shale dev: --listen %q: want HOST:PORT with room for %d ports from PORT and PORT+100\n", base.Broker.Listen, n)
		return 2
	}
	kafka, raft, err := devPorts(host, port, n)
	if err != nil {
		fmt.Fprintf(os.Stderr, "shale dev: %v\n", err)
		return 1
	}
	var peers []string
	for i := range n {
		peers = append(peers, fmt.Sprintf("%d@%s", i+1, raft[i]))
	}
	objects, err := filepath.Abs(filepath.Join(base.DataDir, "objects"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "shale dev: %v\n", err)
		return 1
	}
	cfgs := make([]node.Config, n)
	for i := range n {
		c := base
		c.DataDir = filepath.Join(base.DataDir, fmt.Sprintf("node-%d", i+1))
		c.WAL.Dir, c.Metadata.Dir = "", ""
		c.ObjectStore = "file://" + objects
		c.Broker.NodeID = int32(i + 1)
		c.Broker.Listen = kafka[i]
		c.Broker.Advertised = ""
		c.Roles = "controller,broker"
		c.Metadata.RaftAddr = raft[i]
		c.Metadata.Controllers = strings.Join(peers, ",")
		c.Observe.MetricsListen = offsetPort(base.Observe.MetricsListen, i)
		if err := c.Validate(); err != nil {
			fmt.Fprintf(os.Stderr, "shale dev: node %d: %v\n", i+1, err)
			return 2
		}
		cfgs[i] = c
	}
	logger := newLogger(base.LogLevel, base.Observe.LogFormat)
	nodes := make([]*node.Node, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = node.Start(cfgs[i], logger.With("broker", i+1))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(os.Stderr, "shale dev: %v\n", err)
		stopAll(nodes)
		return 1
	}
	var addrs []string
	for _, nd := range nodes {
		addrs = append(addrs, nd.Addr())
	}
	fmt.Printf("shale dev: %d-node cluster on loopback, object store file://%s\n", n, objects)
	for i, nd := range nodes {
		fmt.Printf("shale dev: node %d: Kafka %s, raft %s, data %s\n", i+1, nd.Addr(), raft[i], cfgs[i].DataDir)
		if a := nd.MetricsAddr(); a != "" {
			fmt.Printf("shale dev: node %d: metrics on http://%s/metrics\n", i+1, a)
		}
	}
	fmt.Printf("shale dev: bootstrap servers %s\n", strings.Join(addrs, ","))
	fmt.Printf("shale dev: cluster status: shale cluster status --controller %s\n", raft[0])
	fmt.Printf("shale dev: ready; stop with Ctrl-C\n")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	fmt.Printf("shale dev: %s received, stopping the cluster\n", s)
	if err := stopAll(nodes); err != nil {
		fmt.Fprintf(os.Stderr, "shale dev: stop: %v\n", err)
		return 1
	}
	fmt.Println("shale dev: stopped")
	return 0
}

// stopAll stops every node at once, without handovers: the whole cluster
// goes down, so there is nobody to hand partitions to.
func stopAll(nodes []*node.Node) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, nd := range nodes {
		if nd == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = nd.Shutdown(false) }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		return errors.New("nodes did not stop within 60s")
	}
	return errors.Join(errs...)
}

// devPorts returns the Kafka and raft addresses of n local nodes.
func devPorts(host string, port, n int) (kafka, raft []string, err error) {
	if port != 0 {
		for i := range n {
			kafka = append(kafka, net.JoinHostPort(host, strconv.Itoa(port+i)))
			raft = append(raft, net.JoinHostPort(host, strconv.Itoa(port+100+i)))
		}
		return kafka, raft, nil
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := range 2 * n {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, nil, fmt.Errorf("pick free ports: %w", err)
		}
		lns = append(lns, ln)
		if i < n {
			kafka = append(kafka, ln.Addr().String())
		} else {
			raft = append(raft, ln.Addr().String())
		}
	}
	return kafka, raft, nil
}

// offsetPort is host:port+i (port 0 stays 0: each picks a free port); ""
// and unparsable addresses are returned as they are, for Validate to name.
func offsetPort(addr string, i int) string {
	host, p, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(p)
	if addr == "" || err != nil || perr != nil || port == 0 {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(port+i))
}
