package main

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/shalelog/shale/node"
)

// observeFlags binds the metrics listener, the console, the log format and
// the cost meter's price table to flags.
func observeFlags(fs *flag.FlagSet, o *node.ObserveConfig) {
	fs.StringVar(&o.MetricsListen, "metrics-listen", o.MetricsListen, "serve Prometheus /metrics, /healthz, /readyz and the cost meter /v1/cost on this host:port (default off)")
	fs.BoolVar(&o.MetricsPartitionLabels, "metrics-partition-labels", o.MetricsPartitionLabels, "add per-partition series (consumer lag per partition)")
	fs.BoolVar(&o.Console, "console", o.Console, "serve the web console on the metrics listener (needs --metrics-listen)")
	fs.StringVar(&o.LogFormat, "log-format", o.LogFormat, "text or json")
	price := func(name, usage string, p *float64) {
		fs.Func(name, fmt.Sprintf("%s (default %g)", usage, *p), func(s string) error {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v < 0 {
				return fmt.Errorf("%q is not a price in dollars (example: 0.005)", s)
			}
			*p = v
			return nil
		})
	}
	price("price-class-a", "dollars per 1,000 class A requests (PUT, COPY, POST, LIST)", &o.Prices.ClassAPer1000)
	price("price-class-b", "dollars per 1,000 class B requests (GET, HEAD)", &o.Prices.ClassBPer1000)
	price("price-storage", "dollars per GB-month stored", &o.Prices.StoragePerGBMonth)
}
