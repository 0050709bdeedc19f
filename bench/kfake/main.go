// Command kfake runs franz-go's in-memory fake Kafka cluster (pkg/kfake)
// as a standalone one-broker process on a loopback port, so that
// `shale loadtest` can drive it over a real socket exactly as it drives
// Shale. The bench harness uses it as the protocol ceiling: the same
// client against a broker that keeps records in memory and syncs nothing.
//
//	go run ./bench/kfake --port 19093
//
// It prints "kfake: Kafka listener on 127.0.0.1:PORT" once listening and
// runs until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("kfake", flag.ContinueOnError)
	port := fs.Int("port", 0, "loopback port to listen on (0: any free port)")
	partitions := fs.Int("default-partitions", 8, "partitions of topics created without a count")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(os.Stderr, "kfake: --port %d is not a port\n", *port)
		return 2
	}
	if *partitions < 1 {
		fmt.Fprintf(os.Stderr, "kfake: --default-partitions %d: must be at least 1\n", *partitions)
		return 2
	}
	// kfake listens on 127.0.0.1 only.
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfake: start cluster: %v\n", err)
		return 1
	}
	defer cluster.Close()
	fmt.Printf("kfake: Kafka listener on %s\n", cluster.ListenAddrs()[0])

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return 0
}
