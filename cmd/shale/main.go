// Command shale is the one Shale binary: the broker, an all-in-one
// development node, and the admin and load-testing tools.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

const usage = `shale: a Kafka-compatible broker on object storage

Usage:
  shale dev    [--data-dir DIR] [--listen HOST:PORT] [flags]   all-in-one node with embedded defaults
  shale broker --config shale.yaml [flags]                     a broker for real deployments
  shale topics create|list|describe|delete|alter-config ...    manage topics
  shale groups list|describe|reset-offsets|delete ...          inspect and manage consumer groups
  shale cluster status|drain|undrain|fence|remove|rebalance    run the cluster (see 'shale cluster --help')
  shale partitions move TOPIC:P --to BROKER                    move a partition's leadership
  shale transactions list|describe|abort ...                   inspect transactions, abort a hanging one
  shale quotas set|list|remove ...                             client quotas per user and client id
  shale users create|list|delete|passwd ...                    manage SASL/SCRAM users
  shale produce TOPIC [flags] < records                        produce records read from stdin
  shale consume TOPIC... [flags]                               print records (text template or JSON)
  shale cost [--metrics-addr HOST:PORT]                        object store cost per topic, from a running broker
  shale loadtest produce|consume|e2e [flags]                   measure throughput and latency
  shale completion bash|zsh                                    print a shell completion script
  shale version

Run 'shale <command> --help' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "dev":
		return runNode("dev", args[1:])
	case "broker":
		return runNode("broker", args[1:])
	case "topics":
		return runTopics(args[1:], os.Stdout, os.Stderr)
	case "groups":
		return runGroups(args[1:], os.Stdout, os.Stderr)
	case "cluster":
		return runCluster(args[1:], os.Stdout, os.Stderr)
	case "transactions":
		return runTransactions(args[1:], os.Stdout, os.Stderr)
	case "quotas":
		return runQuotas(args[1:], os.Stdout, os.Stderr)
	case "users":
		return runUsers(args[1:], os.Stdin, os.Stdout, os.Stderr)
	case "partitions":
		return runPartitions(args[1:], os.Stdout, os.Stderr)
	case "produce":
		return runProduce(args[1:], os.Stdin, os.Stdout, os.Stderr)
	case "consume":
		return runConsume(args[1:], os.Stdout, os.Stderr)
	case "cost":
		return runCost(args[1:], os.Stdout, os.Stderr)
	case "completion":
		return runCompletion(args[1:], os.Stdout, os.Stderr)
	case "loadtest":
		return runLoadtest(args[1:], os.Stdout, os.Stderr)
	case "version", "--version":
		fmt.Println(versionLine())
		return 0
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "shale: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// version and commit are set at build time (make dist) with -ldflags
// "-X main.version=... -X main.commit=..."; a plain go build leaves commit
// to the VCS stamp Go records in the binary.
var (
	version = "dev"
	commit  = ""
)

// versionLine is what `shale version` prints: version, commit, Go version.
func versionLine() string {
	c := commit
	if c == "" {
		c = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			var rev, dirty string
			for _, s := range bi.Settings {
				switch {
				case s.Key == "vcs.revision":
					rev = s.Value
				case s.Key == "vcs.modified" && s.Value == "true":
					dirty = "-dirty"
				}
			}
			if rev != "" {
				c = rev + dirty
			}
		}
	}
	return fmt.Sprintf("shale %s (commit %s, %s)", version, c, runtime.Version())
}
