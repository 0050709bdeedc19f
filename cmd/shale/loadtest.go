package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/shalelog/shale/loadtest"
)

const loadtestUsage = `Usage: shale loadtest produce|consume|e2e [flags]

  produce  send records and measure produce→ack latency
  consume  read the topic from its start offsets (to the end offsets listed
           at start, unless --count or --duration is given)
  e2e      produce and consume at once and measure produce→consume latency

A progress line goes to stderr every --progress; the summary (records/s,
MB/s with MB = 10^6 bytes, latency p50/p90/p99/p99.9/max) goes to stdout,
as JSON with --json. Exit code 0: done; 1: the run failed or records
failed; 2: bad arguments.

Example:
  shale loadtest produce --brokers 127.0.0.1:9092 --topic lt --create-topic \
      --partitions 8 --record-size 100 --producers 4 --acks 1 --linger 5ms \
      --batch-bytes 1MiB --duration 30s

Flags:
`

// runLoadtest is `shale loadtest MODE [flags]`.
func runLoadtest(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, loadtestUsage)
		return exitUsage
	}
	cfg := loadtest.DefaultConfig()
	fs := flag.NewFlagSet("shale loadtest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	printUsage := func(w io.Writer) {
		fmt.Fprint(w, loadtestUsage)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	switch args[0] {
	case "produce", "consume", "e2e":
		cfg.Mode = loadtest.Mode(args[0])
	case "-h", "--help", "help":
		printUsage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "shale loadtest: unknown mode %q (want produce, consume or e2e)\n", args[0])
		return exitUsage
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "shale loadtest %s: %v\n", cfg.Mode, err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "shale loadtest %s: unexpected argument %q\n", cfg.Mode, fs.Arg(0))
		return exitUsage
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "shale loadtest %s: %v\n", cfg.Mode, err)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	summary, err := loadtest.Run(ctx, cfg, stderr)
	if summary != nil {
		var werr error
		if *asJSON {
			werr = summary.WriteJSON(stdout)
		} else {
			werr = summary.WriteText(stdout)
		}
		if werr != nil {
			fmt.Fprintf(stderr, "shale loadtest %s: write summary: %v\n", cfg.Mode, werr)
			return exitFailed
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "shale loadtest %s: %v\n", cfg.Mode, err)
		return exitFailed
	}
	return exitOK
}
