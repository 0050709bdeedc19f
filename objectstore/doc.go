// Package objectstore moves bytes and keys to and from object storage. It
// knows nothing about segments, offsets or indexes; package tiering gives
// the objects their meaning.
//
// # Buckets
//
// A Bucket is a flat namespace of immutable objects with six methods: Put,
// ReadRange, Stat, List, Delete and Close. Three drivers implement it:
//
//   - fs (NewFS): one file per object under a directory. The embedded
//     default for single-node and development use.
//   - s3 (NewS3): AWS S3 or any S3-compatible service (MinIO), on
//     aws-sdk-go-v2.
//   - minio (NewMinio): the same S3 protocol on minio-go, the default for
//     endpoints that are not AWS (see S3Driver). It checks every answer
//     it reads (Content-Range, lengths, listing order) and reports one
//     that breaks the protocol as a *BadResponseError.
//
// Two wrappers add to any Bucket: Counting counts requests and bytes the
// way S3 bills them, and Faulty injects outages, errors, throttling,
// latency and truncated reads for tests. The acceptance suite in
// objectstore/objectstoretest runs over all of them; the s3 and minio runs
// use a real MinIO server (internal/miniotest) and moto's S3 server
// (internal/mototest).
//
// Keys are "/"-separated UTF-8 paths such as "wal/000042/00000001.seg"; see
// ValidateKey for the rules that keep a key inside its bucket on every
// driver. A missing object is always reported with an error wrapping
// ErrNotExist (test with IsNotExist); IsRetriable says whether any other
// failure is worth retrying.
//
// # Bodies
//
// Put reads its body from an io.Reader. A caller that holds the whole body
// in memory gives it as a *BytesReader, and the drivers take its bytes as
// they are (the optional interface BytesBody, which Counting and the
// metrics package's wrapper pass on, counting the bytes as read) instead
// of copying them: the fs driver writes them to the file, with O_DIRECT
// straight from the caller's memory when they start at a BodyAlign
// boundary (AlignedBuffer makes such a buffer), and the s3 drivers send
// them, or slices of them as the parts of a multipart upload. No driver
// changes them, and none reads them after Put returns (the caller may
// reuse the memory then): the AWS SDK guards its request bodies itself,
// and the MinIO driver fences each body it hands to minio-go once the
// request returned.
//
// # URLs
//
// Open builds a bucket from one URL:
//
//	file:///var/lib/shale/objects
//	s3://BUCKET[/PREFIX][?endpoint=URL][&region=REGION][&path_style=true|false][&driver=aws|minio|auto]
//
// For example "s3://shale/prod?endpoint=http://127.0.0.1:9000&region=us-east-1"
// stores key "a/b" as object "prod/a/b" in bucket "shale" on a local MinIO.
// Setting endpoint turns on path-style addressing ("host/bucket/key"), which
// MinIO needs; path_style=false turns it off again. Without endpoint the
// bucket is on AWS, and region (or AWS_REGION, or the shared config) is
// required. Credentials never go in the URL: they come from the standard AWS
// chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a shared profile, an
// instance or task role). driver picks the client library: auto (the
// default) is the AWS SDK for AWS endpoints and minio-go for the rest. Unknown parameters, repeated parameters, bad
// bucket names and relative file paths are rejected with a one-line error.
//
// # Atomicity
//
// Put is all or nothing on every driver: a reader sees the previous object
// (or none) until the new one is complete, then the whole new one; a Put
// that fails leaves the previous state. Shale writes each key once, so in
// practice "previous" is "nothing", but a repeated Put replaces atomically.
//
//   - fs: the body goes to a temporary file ".shale-tmp-*" in the target's
//     directory, which is fsynced, renamed over the target, and the
//     directory fsynced; directories created on the way are fsynced into
//     their parents. When Put returns nil the object survives a crash or
//     power loss; after a crash a key holds the old or the new object, and
//     leftover temporary files are never listed and are removed by NewFS.
//     A filesystem cannot hold both "a" and "a/b"; S3 can. Shale's key
//     layout never needs both.
//   - s3: bodies up to S3Config.MultipartThreshold (64 MiB) go up in one
//     PutObject with a known length and a CRC32C checksum; larger ones (or
//     bodies of unknown size that turn out larger) go up as a multipart
//     upload of S3Config.PartSize parts (16 MiB), UploadConcurrency at a
//     time, each with its own checksum. The object appears only when
//     CompleteMultipartUpload succeeds; an upload that fails is aborted.
//     S3 is strongly read-after-write consistent, so a Put that returned
//     nil is visible to every later read and list.
//
// ReadRange of a range that runs past the end returns the bytes that exist
// (none at or past the end) and no error: callers that need an exact
// length compare what they got with what they asked for. The SDK retries
// each s3 request a few times (S3Config.MaxAttempts) with backoff; callers
// retry whole operations on top of that when IsRetriable says so.
//
// # Request classes
//
// S3 bills requests in two classes, and Counting reports them so:
//
//	class A  PUT, COPY, POST, LIST   Put (1, or create + parts + complete
//	                                 for multipart), List (1 per 1000 keys)
//	class B  GET, HEAD               ReadRange, Stat
//	free     DELETE                  Delete (counted on its own)
//
// The figure Shale watches is class A requests per GiB ingested
// (CountingStats.ClassAPerGiB): one WAL object per flush keeps it bounded
// however many partitions there are.
package objectstore
