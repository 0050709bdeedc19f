package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3 limits on multipart uploads.
const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	maxParts    = 10000
)

// S3Config configures the s3 driver. Zero numeric fields take the values of
// DefaultS3Config.
type S3Config struct {
	// Bucket is the S3 bucket name. Required.
	Bucket string
	// Prefix is prepended to every key, as a folder: "shale" stores key
	// "a/b" at "shale/a/b". Empty means the bucket root.
	Prefix string
	// Endpoint is the base URL of an S3-compatible service such as MinIO,
	// "http://127.0.0.1:9000". Empty means AWS.
	Endpoint string
	// Region is the signing region. Empty means the AWS configuration's
	// region, or "us-east-1" when Endpoint is set.
	Region string
	// PathStyle addresses the bucket as a path ("host/bucket/key") rather
	// than a subdomain. MinIO and most other S3-compatible services need it.
	PathStyle bool
	// AccessKey and SecretKey, when both set, are static credentials that
	// replace the standard AWS credential chain.
	AccessKey, SecretKey string
	// CredentialsFile is a shared credentials file (the format of
	// ~/.aws/credentials) read instead of the default one; Profile picks
	// its profile (and the shared config's). Both are optional: without
	// them the default chain applies (environment, shared config and
	// credentials files, web identity token, ECS or EC2 instance role).
	CredentialsFile string
	Profile         string

	// MultipartThreshold is the largest body sent as one PutObject; larger
	// ones (and bodies of unknown size that turn out larger) go up in parts.
	MultipartThreshold int64
	// PartSize is the size of each multipart part, at least 5 MiB. It grows
	// for bodies that would otherwise need more than 10,000 parts.
	PartSize int64
	// UploadConcurrency is how many parts of one upload are in flight.
	UploadConcurrency int
	// MaxAttempts bounds the SDK's attempts per request (1 = no retry).
	// Callers retry on top of this; IsRetriable says when.
	MaxAttempts int
	// MaxBackoff caps the SDK's delay between attempts.
	MaxBackoff time.Duration
}

// DefaultS3Config returns the defaults: 64 MiB threshold, 32 MiB parts, 4
// parts in flight, 3 attempts, backoff capped at 2 s.
func DefaultS3Config() S3Config {
	return S3Config{
		MultipartThreshold: 64 << 20,
		PartSize:           32 << 20,
		UploadConcurrency:  4,
		MaxAttempts:        3,
		MaxBackoff:         2 * time.Second,
	}
}

func (c S3Config) withDefaults() S3Config {
	d := DefaultS3Config()
	if c.MultipartThreshold == 0 {
		c.MultipartThreshold = d.MultipartThreshold
	}
	if c.PartSize == 0 {
		c.PartSize = d.PartSize
	}
	if c.UploadConcurrency == 0 {
		c.UploadConcurrency = d.UploadConcurrency
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = d.MaxBackoff
	}
	return c
}

// Validate reports the first problem with c, after defaults are applied.
func (c S3Config) Validate() error {
	c = c.withDefaults()
	if err := validateBucketName(c.Bucket); err != nil {
		return err
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		if err := ValidateKey(p); err != nil {
			return fmt.Errorf("bad prefix: %w", err)
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil {
			return fmt.Errorf("bad endpoint %q: %w", c.Endpoint, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("bad endpoint %q: scheme must be http or https", c.Endpoint)
		}
		if u.Host == "" {
			return fmt.Errorf("bad endpoint %q: no host", c.Endpoint)
		}
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return errors.New("set both access key and secret key, or neither")
	}
	switch {
	case c.PartSize < minPartSize || c.PartSize > maxPartSize:
		return fmt.Errorf("part size %d is outside [%d, %d]", c.PartSize, minPartSize, maxPartSize)
	case c.MultipartThreshold < 0 || c.MultipartThreshold > maxPartSize:
		return fmt.Errorf("multipart threshold %d is outside [0, %d]", c.MultipartThreshold, maxPartSize)
	case c.UploadConcurrency < 1:
		return fmt.Errorf("upload concurrency %d is less than 1", c.UploadConcurrency)
	case c.MaxAttempts < 1:
		return fmt.Errorf("max attempts %d is less than 1", c.MaxAttempts)
	case c.MaxBackoff < 0:
		return fmt.Errorf("negative max backoff %v", c.MaxBackoff)
	}
	return nil
}

// validateBucketName applies S3's bucket naming rules.
func validateBucketName(name string) error {
	if name == "" {
		return errors.New("bucket name is empty")
	}
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("bucket name %q may hold only a-z, 0-9, '-' and '.'", name)
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return fmt.Errorf("bucket name %q must begin and end with a letter or digit", name)
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// S3 is the driver for AWS S3 and S3-compatible services such as MinIO.
//
// PutObject and CompleteMultipartUpload are atomic in S3: readers see the
// previous object or the new one, never a part of it, and an upload that
// fails is aborted so its parts do not linger (a crash mid-upload can still
// leave parts; a bucket lifecycle rule for incomplete uploads clears them).
type S3 struct {
	client *s3.Client
	cfg    S3Config
	bucket string
	prefix string // "" or ends in "/"
	closed atomic.Bool
}

var (
	_ Bucket            = (*S3)(nil)
	_ PutRequestCounter = (*S3)(nil)
)

// NewS3 builds an s3 bucket. It loads the standard AWS configuration
// (environment, shared files, instance role) and sends no request.
func NewS3(ctx context.Context, cfg S3Config) (Bucket, error) {
	return newS3(ctx, cfg)
}

func newS3(ctx context.Context, cfg S3Config) (*S3, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open s3 bucket: %w", err)
	}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.MaxAttempts
				o.MaxBackoff = cfg.MaxBackoff
				// Shale's callers retry on their own terms; a client-side
				// retry quota would only turn an outage into odd errors.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	if cfg.CredentialsFile != "" {
		opts = append(opts, awsconfig.WithSharedCredentialsFiles([]string{cfg.CredentialsFile}))
	}
	if cfg.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("open s3 bucket: load aws config: %w", err)
	}
	if awsCfg.Region == "" {
		if cfg.Endpoint == "" {
			return nil, errors.New("open s3 bucket: no region: set region= in the URL or AWS_REGION")
		}
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Ranged reads of multipart objects cannot be checked against a
		// whole-object checksum; that is expected, not worth a log line.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3{client: client, cfg: cfg, bucket: cfg.Bucket, prefix: prefix}, nil
}

func (b *S3) objectKey(key string) *string { return aws.String(b.prefix + key) }

func (b *S3) begin(ctx context.Context) error {
	if b.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// PutRequests implements PutRequestCounter.
func (b *S3) PutRequests(size int64) int64 {
	if size <= b.cfg.MultipartThreshold {
		return 1
	}
	part := b.partSizeFor(size)
	return (size+part-1)/part + 2 // create, the parts, complete
}

// partSizeFor returns the part size for a body of size bytes (negative:
// unknown), doubling the configured size until 10,000 parts suffice.
func (b *S3) partSizeFor(size int64) int64 {
	part := b.cfg.PartSize
	for size > 0 && (size+part-1)/part > maxParts && part < maxPartSize {
		part *= 2
	}
	return min(part, maxPartSize)
}

// Put implements Bucket.
func (b *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := b.put(ctx, key, ctxReader{ctx: ctx, r: r}, size); err != nil {
		return fmt.Errorf("put %s: %w", key, b.mapErr(ctx, err))
	}
	return nil
}

func (b *S3) put(ctx context.Context, key string, r io.Reader, size int64) error {
	return putBody(r, size, b.cfg.MultipartThreshold,
		func(buf []byte) error { return b.putObject(ctx, key, buf) },
		func(r io.Reader) error { return b.multipartPut(ctx, key, r, size) })
}

// expectEOF checks that r has nothing after the size bytes already read.
func expectEOF(r io.Reader, size int64) error {
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	if n > 0 {
		return fmt.Errorf("body is longer than %d bytes", size)
	}
	if err != io.EOF {
		return fmt.Errorf("read body: %w", err)
	}
	return nil
}

func (b *S3) putObject(ctx context.Context, key string, body []byte) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            aws.String(b.bucket),
		Key:               b.objectKey(key),
		Body:              bytes.NewReader(body),
		ContentLength:     aws.Int64(int64(len(body))),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
	})
	return err
}

// multipartPut uploads r in parts, up to UploadConcurrency at once. The
// object appears only when CompleteMultipartUpload succeeds; on any failure
// the upload is aborted.
func (b *S3) multipartPut(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	partSize := b.partSizeFor(size)
	created, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(b.bucket),
		Key:               b.objectKey(key),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
	})
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	uploadID := created.UploadId
	defer func() {
		if err == nil {
			return
		}
		// Abort even when ctx is what failed, but do not wait forever.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, aerr := b.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket:   aws.String(b.bucket),
			Key:      b.objectKey(key),
			UploadId: uploadID,
		}); aerr != nil {
			err = fmt.Errorf("%w (abort multipart upload: %v)", err, aerr)
		}
	}()

	parts, err := uploadParts(ctx, r, size, partSize, b.cfg.UploadConcurrency, func(uctx context.Context, num int, data []byte) (types.CompletedPart, error) {
		out, err := b.client.UploadPart(uctx, &s3.UploadPartInput{
			Bucket:            aws.String(b.bucket),
			Key:               b.objectKey(key),
			UploadId:          uploadID,
			PartNumber:        aws.Int32(int32(num)),
			Body:              bytes.NewReader(data),
			ContentLength:     aws.Int64(int64(len(data))),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		})
		if err != nil {
			return types.CompletedPart{}, fmt.Errorf("upload part %d: %w", num, err)
		}
		return types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(num)), ChecksumCRC32C: out.ChecksumCRC32C}, nil
	})
	if err != nil {
		return err
	}
	_, err = b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(b.bucket),
		Key:             b.objectKey(key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

// ReadRange implements Bucket. As for the minio driver, the answer is
// checked against the range asked for (see checkRangeAnswer).
func (b *S3) ReadRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if err := checkRange(off, length); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if err := b.begin(ctx); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if length == 0 {
		// No byte range can say "nothing"; still report a missing key.
		if _, err := b.head(ctx, key); err != nil {
			return nil, fmt.Errorf("read %s: %w", key, b.mapErr(ctx, err))
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: b.objectKey(key)}
	if rng := httpRange(off, length); rng != "" {
		in.Range = aws.String(rng)
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		if isInvalidRange(err) {
			// off is at or past the end (an empty object answers any
			// range this way): the documented answer is an empty body.
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, fmt.Errorf("read %s: %w", key, b.mapErr(ctx, err))
	}
	// The answer must be the range asked for: its Content-Range and
	// Content-Length are checked and the body is cut to exactly the bytes
	// they promise (a short body is an error, never a short read).
	answer := rangeAnswer{ranged: in.Range != nil, contentLength: -1, contentRange: aws.ToString(out.ContentRange)}
	if out.ContentLength != nil {
		answer.contentLength = *out.ContentLength
	}
	skip, want, err := checkRangeAnswer(key, off, length, answer)
	if err != nil {
		out.Body.Close()
		return nil, err
	}
	return newExactBody(out.Body, key, off, skip, want), nil
}

// httpRange returns the Range header for [off, off+length), length < 0
// meaning to the end, or "" when the whole object is wanted.
func httpRange(off, length int64) string {
	if length < 0 || off > (1<<63-1)-length {
		if off == 0 {
			return ""
		}
		return "bytes=" + strconv.FormatInt(off, 10) + "-"
	}
	return "bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+length-1, 10)
}

func isInvalidRange(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "InvalidRange" {
		return true
	}
	return httpStatus(err) == 416
}

func (b *S3) head(ctx context.Context, key string) (*s3.HeadObjectOutput, error) {
	return b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: b.objectKey(key)})
}

// Stat implements Bucket.
func (b *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	out, err := b.head(ctx, key)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, b.mapErr(ctx, err))
	}
	return ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// List implements Bucket. Objects whose keys are not valid keys (written by
// other tools, such as "folder/" markers) are skipped.
func (b *S3) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := validatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(b.bucket),
		Prefix: aws.String(b.prefix + prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %q: %w", prefix, b.mapErr(ctx, err))
		}
		for _, obj := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(obj.Key), b.prefix)
			if !ok || ValidateKey(key) != nil {
				continue
			}
			info := ObjectInfo{Key: key, Size: aws.ToInt64(obj.Size), ModTime: aws.ToTime(obj.LastModified)}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements Bucket.
func (b *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: b.objectKey(key)})
	if err != nil {
		err = b.mapErr(ctx, err)
		if IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// Close implements Bucket. It closes idle connections; requests still in
// flight finish.
func (b *S3) Close() error {
	b.closed.Store(true)
	if c, ok := b.client.Options().HTTPClient.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return nil
}

// mapErr makes a missing object wrap ErrNotExist and a failure caused by
// the caller's context wrap the context's error.
func (b *S3) mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var noKey *types.NoSuchKey
	var notFound *types.NotFound
	var api smithy.APIError
	if errors.As(err, &noKey) || errors.As(err, &notFound) ||
		errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound") {
		return fmt.Errorf("%w: %w", ErrNotExist, err)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}
