package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/shalelog/shale/metrics"
)

var costSpec = adminSpec{
	name:     "cost",
	synopsis: "[--metrics-addr HOST:PORT] [--output table|json]",
	summary:  "what each topic costs in object store requests and storage",
	details: `Asks a running broker's cost meter (its --metrics-listen address) and
prints, per topic: object store requests by billing class (A: PUT, COPY,
POST, LIST; B: GET, HEAD), bytes ingested, written, read and stored, and
the cost per hour and per GiB ingested at the broker's price table
(--price-class-a, --price-class-b, --price-storage; S3 Standard by
default). Requests on uploaded WAL objects, which hold many topics, are
shared out by bytes produced (class A) and fetched (class B); LISTs are
the cluster's. Figures are since the broker started; in a cluster each
broker meters its own requests.`,
}

func runCost(args []string, stdout, stderr io.Writer) int {
	c := &adminCmd{spec: costSpec, path: "shale cost", stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return c.exitCode(costRun(c, args))
}

func costRun(c *adminCmd, args []string) error {
	fs := c.httpFlags()
	var addr string
	c.metricsAddrFlag(fs, &addr)
	c.outputFlag(fs)
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if err := checkHostPort("metrics-addr", addr); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var rep metrics.CostReport
	if err := getJSON(ctx, addr, "/v1/cost", &rep); err != nil {
		return err
	}
	if c.output == "json" {
		return writeJSON(c.stdout, rep)
	}
	fmt.Fprintf(c.stdout, "Object store cost over %s since %s, at $%g per 1,000 class A, $%g per 1,000 class B, $%g per GB-month.\n\n",
		fmtDuration(rep.Seconds), rep.Since.Format("2006-01-02 15:04:05 MST"), rep.Prices.ClassAPer1000, rep.Prices.ClassBPer1000, rep.Prices.StoragePerGBMonth)
	t := newTable("TOPIC", "CLASS-A", "CLASS-B", "INGESTED", "WRITTEN", "READ", "STORED", "EXTENTS", "$/HOUR", "$/GIB-INGESTED")
	for _, tc := range append(append(rep.Topics, rep.Cluster), rep.Total) {
		perGiB := "-"
		if tc.BytesIngest > 0 {
			perGiB = fmt.Sprintf("%.6f", tc.PerGiB)
		}
		t.addRow(tc.Topic, fmt.Sprintf("%.1f", tc.ClassA), fmt.Sprintf("%.1f", tc.ClassB), humanBytes(float64(tc.BytesIngest)),
			humanBytes(tc.BytesWritten), humanBytes(tc.BytesRead), humanBytes(float64(tc.BytesStored)), tc.Objects,
			fmt.Sprintf("%.6f", tc.PerHour), perGiB)
	}
	return t.render(c.stdout)
}

// humanBytes writes n with a binary unit.
func humanBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f%s", n, units[i])
	}
	return fmt.Sprintf("%.1f%s", n, units[i])
}

func fmtDuration(seconds float64) string {
	switch {
	case seconds < 120:
		return fmt.Sprintf("%.0fs", seconds)
	case seconds < 7200:
		return fmt.Sprintf("%.0fm", seconds/60)
	}
	return fmt.Sprintf("%.1fh", seconds/3600)
}
