package objectstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Minio is the s3 driver built on minio-go, for S3-compatible stores that
// are not AWS (MinIO, Ceph RGW, SeaweedFS, ...). It keeps the contract and
// the request pattern of the AWS SDK driver (S3): one PutObject up to
// MultipartThreshold, otherwise a multipart upload that is aborted when it
// fails; every body carries a CRC32C checksum the store verifies.
//
// What it adds is that every answer it reads is checked before it is
// believed: a ranged GET must name the range asked for in Content-Range
// and agree with Content-Length, and a body that ends early is an
// io.ErrUnexpectedEOF, never a short object; a listing must come in key
// order under the prefix asked for; a Stat must give a size. An answer that
// breaks the protocol is a *BadResponseError.
//
// Retries: minio-go retries each request up to S3Config.MaxAttempts times
// on network errors, 5xx, 408, 429 and throttling codes, with its own
// backoff (200 ms doubling, capped at 1 s; MaxBackoff is not used). Errors
// it returns satisfy IsRetriable as the AWS driver's do.
type Minio struct {
	core      *minio.Core
	transport *http.Transport
	cfg       S3Config
	bucket    string
	prefix    string // "" or ends in "/"
	closed    atomic.Bool
}

var (
	_ Bucket            = (*Minio)(nil)
	_ PutRequestCounter = (*Minio)(nil)
)

// NewMinio builds an s3 bucket on minio-go. cfg means what it means for
// NewS3; Endpoint must be scheme://host[:port] (no path). Without
// AccessKey, credentials come from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), then the shared
// credentials file (CredentialsFile, else AWS_SHARED_CREDENTIALS_FILE or
// ~/.aws/credentials; profile Profile, else AWS_PROFILE, else default),
// then, on AWS endpoints only, the instance role. Unlike the AWS SDK it
// reads no credentials from the shared config file and no web identity
// token. It sends no request.
func NewMinio(ctx context.Context, cfg S3Config) (Bucket, error) {
	return newMinio(cfg)
}

func newMinio(cfg S3Config) (*Minio, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open s3 bucket: %w", err)
	}
	if err := DriverMinio.Validate(cfg); err != nil {
		return nil, fmt.Errorf("open s3 bucket: %w", err)
	}
	host, secure := "s3.amazonaws.com", true
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("open s3 bucket: bad endpoint %q: %w", cfg.Endpoint, err)
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	region := cfg.Region
	if region == "" {
		region = os.Getenv("AWS_REGION")
	}
	if region == "" {
		if cfg.Endpoint == "" {
			return nil, errors.New("open s3 bucket: no region: set region= in the URL or AWS_REGION")
		}
		region = "us-east-1"
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		chain := []credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{Filename: cfg.CredentialsFile, Profile: cfg.Profile},
		}
		if IsAWSEndpoint(cfg.Endpoint) {
			chain = append(chain, &credentials.IAM{})
		}
		creds = credentials.NewChainCredentials(chain)
	}
	transport, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("open s3 bucket: %w", err)
	}
	// Shale reads whole blocks from one host with a handful of readers at
	// once; keep enough idle connections that none is redialed.
	transport.MaxIdleConnsPerHost = 64
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	core, err := minio.NewCore(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Transport:    transport,
		Region:       region,
		BucketLookup: lookup,
		MaxRetries:   cfg.MaxAttempts,
	})
	if err != nil {
		return nil, fmt.Errorf("open s3 bucket: %w", err)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Minio{core: core, transport: transport, cfg: cfg, bucket: cfg.Bucket, prefix: prefix}, nil
}

func (b *Minio) begin(ctx context.Context) error {
	if b.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// PutRequests implements PutRequestCounter.
func (b *Minio) PutRequests(size int64) int64 {
	if size <= b.cfg.MultipartThreshold {
		return 1
	}
	part := partSizeFor(b.cfg.PartSize, size)
	return (size+part-1)/part + 2 // create, the parts, complete
}

// partSizeFor returns the part size for a body of size bytes (negative:
// unknown), doubling part until 10,000 parts suffice.
func partSizeFor(part, size int64) int64 {
	for size > 0 && (size+part-1)/part > maxParts && part < maxPartSize {
		part *= 2
	}
	return min(part, maxPartSize)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32cBase64 is the value of an x-amz-checksum-crc32c header for p.
func crc32cBase64(p []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(p, castagnoli))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Put implements Bucket.
func (b *Minio) Put(ctx context.Context, key string, r io.Reader, size int64) error {
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

func (b *Minio) put(ctx context.Context, key string, r io.Reader, size int64) error {
	return putBody(r, size, b.cfg.MultipartThreshold,
		func(buf []byte) error { return b.putObject(ctx, key, buf) },
		func(r io.Reader) error { return b.multipartPut(ctx, key, r, size) })
}

// putOptions are the options of every write: the body is not hashed into
// the signature (UNSIGNED-PAYLOAD, as over TLS) but carries the CRC32C the
// store checks.
func putOptions(crc string) minio.PutObjectOptions {
	opts := minio.PutObjectOptions{
		DisableContentSha256: true,
		DisableMultipart:     true,
	}
	if crc != "" {
		opts.UserMetadata = map[string]string{"X-Amz-Checksum-Crc32c": crc}
	}
	return opts
}

func (b *Minio) putObject(ctx context.Context, key string, body []byte) error {
	// The body may be the caller's memory (BytesBody), which the caller
	// reuses once Put returns; minio-go's transport could still read a
	// request body after the call returned (the AWS SDK guards against
	// that itself). The fence makes any such late read fail instead.
	r := &fencedReader{r: bytes.NewReader(body)}
	defer r.fence()
	info, err := b.core.PutObject(ctx, b.bucket, b.prefix+key, r, int64(len(body)), "", "", putOptions(crc32cBase64(body)))
	if err != nil {
		return err
	}
	if info.ETag == "" {
		return &BadResponseError{Op: "put", Key: key, Reason: "no ETag"}
	}
	return nil
}

// multipartPut uploads r in parts, up to UploadConcurrency at once, as the
// AWS driver does. The object appears only when CompleteMultipartUpload
// succeeds; on any failure the upload is aborted.
func (b *Minio) multipartPut(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	partSize := partSizeFor(b.cfg.PartSize, size)
	object := b.prefix + key
	createOpts := putOptions("")
	createOpts.UserMetadata = map[string]string{"X-Amz-Checksum-Algorithm": "CRC32C"}
	uploadID, err := b.core.NewMultipartUpload(ctx, b.bucket, object, createOpts)
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	if uploadID == "" {
		return &BadResponseError{Op: "put", Key: key, Reason: "multipart upload created without an UploadId"}
	}
	defer func() {
		if err == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if aerr := b.core.AbortMultipartUpload(actx, b.bucket, object, uploadID); aerr != nil {
			err = fmt.Errorf("%w (abort multipart upload: %v)", err, aerr)
		}
	}()

	parts, err := uploadParts(ctx, r, size, partSize, b.cfg.UploadConcurrency, func(uctx context.Context, num int, data []byte) (minio.CompletePart, error) {
		crc := crc32cBase64(data)
		hdr := make(http.Header)
		hdr.Set("X-Amz-Checksum-Crc32c", crc)
		body := &fencedReader{r: bytes.NewReader(data)} // data is reused or the caller's once this returns
		part, err := b.core.PutObjectPart(uctx, b.bucket, object, uploadID, num, body, int64(len(data)),
			minio.PutObjectPartOptions{DisableContentSha256: true, CustomHeader: hdr})
		body.fence()
		if err != nil {
			return minio.CompletePart{}, fmt.Errorf("upload part %d: %w", num, err)
		}
		if part.ETag == "" {
			return minio.CompletePart{}, &BadResponseError{Op: "put", Key: key, Reason: fmt.Sprintf("part %d stored without an ETag", num)}
		}
		if part.ChecksumCRC32C != "" && part.ChecksumCRC32C != crc {
			return minio.CompletePart{}, &BadResponseError{Op: "put", Key: key, Reason: fmt.Sprintf("part %d stored with CRC32C %s, sent %s", num, part.ChecksumCRC32C, crc)}
		}
		return minio.CompletePart{PartNumber: num, ETag: part.ETag, ChecksumCRC32C: crc}, nil
	})
	if err != nil {
		return err
	}
	if _, err := b.core.CompleteMultipartUpload(ctx, b.bucket, object, uploadID, parts, putOptions("")); err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

// ReadRange implements Bucket. The answer's Content-Range and
// Content-Length are checked against the range asked for, and the body is
// cut to exactly the bytes they promise (see checkRangeAnswer).
func (b *Minio) ReadRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
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
		if _, err := b.stat(ctx, key); err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	var opts minio.GetObjectOptions
	rng := httpRange(off, length)
	if rng != "" {
		opts.Set("Range", rng)
	}
	body, _, hdr, err := b.core.GetObject(ctx, b.bucket, b.prefix+key, opts)
	if err != nil {
		if minioCode(err) == "InvalidRange" || minioStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			// off is at or past the end (an empty object answers any
			// range this way): the documented answer is an empty body.
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, fmt.Errorf("read %s: %w", key, b.mapErr(ctx, err))
	}
	answer := rangeAnswer{ranged: rng != "", contentLength: -1, contentRange: hdr.Get("Content-Range")}
	if cl := hdr.Get("Content-Length"); cl != "" {
		if answer.contentLength, err = parseDecimal(cl); err != nil {
			body.Close()
			return nil, &BadResponseError{Op: "read", Key: key, Off: off, Reason: fmt.Sprintf("Content-Length: %v", err)}
		}
	}
	skip, want, err := checkRangeAnswer(key, off, length, answer)
	if err != nil {
		body.Close()
		return nil, err
	}
	return newExactBody(body, key, off, skip, want), nil
}

func (b *Minio) stat(ctx context.Context, key string) (ObjectInfo, error) {
	info, err := b.core.StatObject(ctx, b.bucket, b.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, b.mapErr(ctx, err)
	}
	if info.Size < 0 {
		return ObjectInfo{}, &BadResponseError{Op: "stat", Key: key, Reason: "no Content-Length"}
	}
	return ObjectInfo{Key: key, Size: info.Size, ModTime: info.LastModified}, nil
}

// Stat implements Bucket.
func (b *Minio) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	info, err := b.stat(ctx, key)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return info, nil
}

// List implements Bucket. Objects whose keys are not valid keys (written by
// other tools, such as "folder/" markers) are skipped. A listing whose keys
// are out of order, repeated, or outside the prefix is a
// *BadResponseError.
func (b *Minio) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := validatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	fetchOwner := false
	full := b.prefix + prefix
	last := ""
	for obj := range b.core.ListObjectsIter(ctx, b.bucket, minio.ListObjectsOptions{
		Prefix:     full,
		Recursive:  true,
		FetchOwner: &fetchOwner,
	}) {
		if obj.Err != nil {
			return fmt.Errorf("list %q: %w", prefix, b.mapErr(ctx, obj.Err))
		}
		switch {
		case !strings.HasPrefix(obj.Key, full):
			return &BadResponseError{Op: "list", Key: prefix, Reason: fmt.Sprintf("key %q is outside the prefix", obj.Key)}
		case last != "" && obj.Key <= last:
			return &BadResponseError{Op: "list", Key: prefix, Reason: fmt.Sprintf("key %q follows %q", obj.Key, last)}
		case obj.Size < 0:
			return &BadResponseError{Op: "list", Key: prefix, Reason: fmt.Sprintf("key %q has size %d", obj.Key, obj.Size)}
		}
		last = obj.Key
		key := obj.Key[len(b.prefix):]
		if ValidateKey(key) != nil {
			continue
		}
		if err := fn(ObjectInfo{Key: key, Size: obj.Size, ModTime: obj.LastModified}); err != nil {
			return err
		}
	}
	// minio-go ends the listing quietly when ctx is done; that is no end.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}

// Delete implements Bucket.
func (b *Minio) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := b.core.RemoveObject(ctx, b.bucket, b.prefix+key, minio.RemoveObjectOptions{}); err != nil {
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
func (b *Minio) Close() error {
	b.closed.Store(true)
	b.transport.CloseIdleConnections()
	return nil
}

// mapErr makes a missing object wrap ErrNotExist, an S3 error answer a
// *MinioError (which IsRetriable understands), and a failure caused by the
// caller's context wrap the context's error.
func (b *Minio) mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		if resp.Code == "NoSuchKey" || resp.Code == "NotFound" {
			return fmt.Errorf("%w: %w", ErrNotExist, &MinioError{resp: resp})
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w: %w", cerr, &MinioError{resp: resp})
		}
		return &MinioError{resp: resp}
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// MinioError is an error answer from the store, as minio-go parsed it. It
// reports the S3 error code and HTTP status the way the AWS SDK's errors
// do, so IsRetriable treats both drivers alike. Errors minio-go makes up
// itself (status 0, such as a malformed header) carry no code: they are
// not retriable.
type MinioError struct {
	resp minio.ErrorResponse
}

var _ smithy.APIError = (*MinioError)(nil)

func (e *MinioError) Error() string {
	if e.resp.StatusCode == 0 {
		return e.resp.Error()
	}
	return fmt.Sprintf("%s (HTTP %d, %s)", e.resp.Error(), e.resp.StatusCode, e.resp.Code)
}

// Unwrap returns minio-go's minio.ErrorResponse.
func (e *MinioError) Unwrap() error { return e.resp }

// ErrorCode implements smithy.APIError: the S3 error code, such as
// "SlowDown", or "" for errors no server sent.
func (e *MinioError) ErrorCode() string {
	if e.resp.StatusCode == 0 {
		return ""
	}
	return e.resp.Code
}

// ErrorMessage implements smithy.APIError.
func (e *MinioError) ErrorMessage() string { return e.resp.Message }

// ErrorFault implements smithy.APIError.
func (e *MinioError) ErrorFault() smithy.ErrorFault {
	switch {
	case e.resp.StatusCode >= 500:
		return smithy.FaultServer
	case e.resp.StatusCode >= 400:
		return smithy.FaultClient
	}
	return smithy.FaultUnknown
}

// HTTPStatusCode returns the answer's HTTP status, or 0.
func (e *MinioError) HTTPStatusCode() int { return e.resp.StatusCode }

func minioCode(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}

func minioStatus(err error) int {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.StatusCode
	}
	return 0
}

// fencedReader is a bytes.Reader that stops reading once fenced: Read,
// ReadAt and Seek after fence return errFenced, and a read in progress
// finishes before fence returns, so nothing reads the bytes after that.
type fencedReader struct {
	mu     sync.Mutex
	r      *bytes.Reader
	fenced bool
}

var errFenced = errors.New("objectstore: request body read after its put returned")

func (f *fencedReader) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fenced {
		return 0, errFenced
	}
	return f.r.Read(p)
}

func (f *fencedReader) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fenced {
		return 0, errFenced
	}
	return f.r.ReadAt(p, off)
}

func (f *fencedReader) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fenced {
		return 0, errFenced
	}
	return f.r.Seek(offset, whence)
}

// Len is what bytes.Reader's Len is: the unread bytes (minio-go asks).
func (f *fencedReader) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.r.Len()
}

func (f *fencedReader) fence() {
	f.mu.Lock()
	f.fenced = true
	f.mu.Unlock()
}
