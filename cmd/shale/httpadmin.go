package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// defaultMetricsAddr is where the tools look for a broker's metrics
// listener (started with --metrics-listen) unless told otherwise.
const defaultMetricsAddr = "127.0.0.1:9644"

// httpFlags is flags() for commands that ask only a broker's metrics
// listener: --timeout, no --brokers.
func (c *adminCmd) httpFlags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	c.timeout = 30 * time.Second
	fs.Func("timeout", "give up after this `duration`, such as 10s (default 30s)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return errors.New("want a positive duration such as 10s")
		}
		c.timeout = d
		return nil
	})
	return fs
}

// metricsAddrFlag registers --metrics-addr (env SHALE_METRICS_ADDR).
func (c *adminCmd) metricsAddrFlag(fs *flag.FlagSet, dst *string) {
	def := c.getenv("SHALE_METRICS_ADDR")
	if def == "" {
		def = defaultMetricsAddr
	}
	fs.StringVar(dst, "metrics-addr", def, "`host:port` of a broker's metrics listener (its --metrics-listen; env SHALE_METRICS_ADDR; default "+defaultMetricsAddr+")")
}

// checkHostPort refuses an address that is not host:port.
func checkHostPort(flagName, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return usagef("invalid value %q for --%s: want host:port", addr, flagName)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return usagef("invalid value %q for --%s: port must be a number from 1 to 65535", addr, flagName)
	}
	return nil
}

// errNotFound is a 404 from the admin endpoint.
var errNotFound = errors.New("not found")

// getJSON GETs http://addr+path and decodes the JSON answer into v.
func getJSON(ctx context.Context, addr, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ask the broker's metrics listener at %s (is the broker running with --metrics-listen %s?): %w", addr, addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%w: %s", errNotFound, strings.TrimSpace(string(body)))
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("GET %s from %s: %s: %s", path, addr, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s from %s: bad answer: %w", path, addr, err)
	}
	return nil
}
