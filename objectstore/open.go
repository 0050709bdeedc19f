package objectstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Open builds a Bucket from a URL:
//
//	file:///abs/path
//	s3://bucket[/prefix][?endpoint=URL][&region=R][&path_style=true|false]
//	    [&credentials_file=/abs/path][&profile=NAME][&driver=aws|minio|auto]
//
// For s3, setting endpoint turns path-style addressing on unless
// path_style says otherwise; driver picks the client library (S3Driver):
// auto, the default, is the AWS SDK on AWS and minio-go elsewhere.
// Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, the shared config and credentials files, a web
// identity token, an ECS or EC2 instance role), or from the shared
// credentials file credentials_file names; never from the URL, which is
// logged and shown. A bad URL gets a one-line error naming what is wrong,
// with any user info and unknown parameters' values left out of it.
func Open(ctx context.Context, rawURL string) (Bucket, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if loc.Dir != "" {
		return NewFS(loc.Dir)
	}
	return OpenS3(ctx, loc.Driver, loc.S3)
}

// Location is a parsed bucket URL: Dir for file URLs, S3 (served by
// Driver) otherwise.
type Location struct {
	Dir    string
	S3     S3Config
	Driver S3Driver
}

// ParseURL parses a bucket URL as Open does, without opening anything.
func ParseURL(rawURL string) (Location, error) {
	shown := "(unparsable)"
	fail := func(format string, args ...any) (Location, error) {
		return Location{}, fmt.Errorf("bucket url %q: %s", shown, fmt.Sprintf(format, args...))
	}
	if rawURL == "" {
		return Location{}, errors.New("bucket url is empty")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's errors quote the whole URL: say only what is wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("%v", err)
	}
	shown = RedactURL(u)
	if u.User != nil {
		return fail("credentials do not belong in the url; use the AWS credential chain")
	}
	if u.Fragment != "" {
		return fail("unexpected fragment %q", u.Fragment)
	}
	switch u.Scheme {
	case "file":
		if u.Opaque != "" {
			return fail("file path must be absolute: file:///abs/path")
		}
		if u.Host != "" && u.Host != "localhost" {
			return fail("file url has host %q; write file:///abs/path", u.Host)
		}
		if u.RawQuery != "" {
			return fail("file url takes no query parameters")
		}
		if u.Path == "" || !filepath.IsAbs(filepath.FromSlash(u.Path)) {
			return fail("file path must be absolute: file:///abs/path")
		}
		return Location{Dir: filepath.Clean(filepath.FromSlash(u.Path))}, nil
	case "s3":
		cfg := DefaultS3Config()
		cfg.Bucket = u.Host
		if u.Opaque != "" {
			return fail("write s3://bucket/prefix")
		}
		if u.Port() != "" {
			return fail("bucket name has a port; put the endpoint in ?endpoint=")
		}
		if err := validateBucketName(cfg.Bucket); err != nil {
			return fail("%v", err)
		}
		cfg.Prefix = strings.Trim(u.Path, "/")
		if cfg.Prefix != "" {
			if err := ValidateKey(cfg.Prefix); err != nil {
				return fail("bad prefix: %v", err)
			}
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return fail("bad query: %v", err)
		}
		pathStyle := ""
		var driver S3Driver
		for _, name := range slices.Sorted(maps.Keys(q)) {
			vals := q[name]
			if len(vals) != 1 {
				return fail("parameter %q is given %d times", name, len(vals))
			}
			v := vals[0]
			switch name {
			case "endpoint":
				cfg.Endpoint = v
			case "region":
				if v == "" {
					return fail("region is empty")
				}
				cfg.Region = v
			case "path_style":
				pathStyle = v
			case "credentials_file":
				if !filepath.IsAbs(v) {
					return fail("credentials_file must be an absolute path")
				}
				cfg.CredentialsFile = v
			case "profile":
				if v == "" {
					return fail("profile is empty")
				}
				cfg.Profile = v
			case "driver":
				if driver, err = ParseS3Driver(v); err != nil {
					return fail("%v", err)
				}
			default:
				return fail("unknown parameter %q (want endpoint, region, path_style, credentials_file, profile or driver)", name)
			}
		}
		cfg.PathStyle = cfg.Endpoint != ""
		if pathStyle != "" {
			b, err := strconv.ParseBool(pathStyle)
			if err != nil {
				return fail("path_style is %q, want true or false", pathStyle)
			}
			cfg.PathStyle = b
		}
		if err := cfg.Validate(); err != nil {
			return fail("%v", err)
		}
		if err := driver.Validate(cfg); err != nil {
			return fail("%v", err)
		}
		return Location{S3: cfg, Driver: driver}, nil
	case "":
		return fail("no scheme; want file:///abs/path or s3://bucket/prefix")
	default:
		return fail("unsupported scheme %q; want file or s3", u.Scheme)
	}
}

// urlParams are the parameters whose values RedactURL shows.
var urlParams = map[string]bool{"endpoint": true, "region": true, "path_style": true, "credentials_file": true, "profile": true, "driver": true}

// RedactURL returns u as text without what could be a secret: user info
// and the values of parameters Open does not know (a secret key pasted
// into the URL, say) are replaced by REDACTED.
func RedactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("REDACTED")
	}
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err != nil {
			c.RawQuery = "REDACTED"
		} else {
			for k, vs := range q {
				if !urlParams[k] {
					for i := range vs {
						vs[i] = "REDACTED"
					}
				}
			}
			c.RawQuery = q.Encode()
		}
	}
	return c.String()
}
