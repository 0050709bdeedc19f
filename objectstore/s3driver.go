package objectstore

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// S3Driver names the client library an s3 bucket is served by. Both pass
// the same acceptance suite; they differ in how much CPU a byte costs and
// in which stores they have been tried against.
type S3Driver string

const (
	// DriverAuto picks DriverAWS for AWS endpoints (no endpoint, or a host
	// under amazonaws.com) and DriverMinio for every other endpoint, except
	// one with a path (a gateway under a folder), which minio-go cannot
	// address: that stays with DriverAWS.
	DriverAuto S3Driver = ""
	// DriverAWS is aws-sdk-go-v2 (NewS3).
	DriverAWS S3Driver = "aws"
	// DriverMinio is minio-go (NewMinio).
	DriverMinio S3Driver = "minio"
)

// ParseS3Driver parses the driver= parameter of an s3 URL.
func ParseS3Driver(s string) (S3Driver, error) {
	switch d := S3Driver(s); d {
	case DriverAWS, DriverMinio:
		return d, nil
	case "auto":
		return DriverAuto, nil
	}
	return "", fmt.Errorf("driver is %q, want aws, minio or auto", s)
}

// Resolve returns the driver that serves cfg: d itself, or for DriverAuto
// the AWS SDK on AWS and minio-go elsewhere. docs/BENCHMARKS.md has the
// cold-read figures behind that default.
func (d S3Driver) Resolve(cfg S3Config) S3Driver {
	if d != DriverAuto {
		return d
	}
	if IsAWSEndpoint(cfg.Endpoint) || endpointHasPath(cfg.Endpoint) {
		return DriverAWS
	}
	return DriverMinio
}

func endpointHasPath(endpoint string) bool {
	u, err := url.Parse(endpoint)
	return err == nil && (strings.Trim(u.Path, "/") != "" || u.RawQuery != "")
}

// Validate reports why d cannot serve cfg, or nil.
func (d S3Driver) Validate(cfg S3Config) error {
	if d.Resolve(cfg) != DriverMinio || cfg.Endpoint == "" {
		return nil
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return fmt.Errorf("bad endpoint %q: %w", cfg.Endpoint, err)
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("endpoint %q: the minio driver takes scheme://host[:port] only, no path or query", cfg.Endpoint)
	}
	return nil
}

// IsAWSEndpoint reports whether endpoint is AWS S3: empty (the SDK's own
// endpoints) or a host under amazonaws.com or amazonaws.com.cn.
func IsAWSEndpoint(endpoint string) bool {
	if endpoint == "" {
		return true
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	return strings.HasSuffix(host, ".amazonaws.com") || strings.HasSuffix(host, ".amazonaws.com.cn")
}

// OpenS3 builds an s3 bucket served by driver d.
func OpenS3(ctx context.Context, d S3Driver, cfg S3Config) (Bucket, error) {
	if err := d.Validate(cfg); err != nil {
		return nil, fmt.Errorf("open s3 bucket: %w", err)
	}
	switch d.Resolve(cfg) {
	case DriverMinio:
		return NewMinio(ctx, cfg)
	case DriverAWS:
		return NewS3(ctx, cfg)
	}
	return nil, fmt.Errorf("open s3 bucket: unknown driver %q", d)
}
