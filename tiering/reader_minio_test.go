package tiering

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/shalelog/shale/internal/miniotest"
	"github.com/shalelog/shale/objectstore"
)

// TestReadFromMinIO runs the every-offset read against a real MinIO server
// (see internal/miniotest); without the binary it is skipped, unless
// SHALE_REQUIRE_MINIO=1.
func TestReadFromMinIO(t *testing.T) {
	srv := miniotest.Start(t)
	cfg := objectstore.DefaultS3Config()
	cfg.Bucket = srv.Bucket
	cfg.Prefix = "tiering-reader"
	cfg.Endpoint = srv.Endpoint
	cfg.Region = miniotest.Region
	cfg.PathStyle = true
	cfg.AccessKey = srv.AccessKey
	cfg.SecretKey = srv.SecretKey
	b, err := objectstore.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open MinIO bucket: %v", err)
	}
	defer b.Close()
	f := newColdFixtureOn(b)
	f.standardObjects(t, rand.New(rand.NewPCG(50, 50)))
	rcfg := testReaderConfig()
	rcfg.BlockSize = 16 << 10
	r := newTestReader(t, f, rcfg)
	if n := readEveryOffset(t, f, r); n == 0 {
		t.Fatal("no reads returned data")
	}
	st := r.Stats()
	if st.FooterMisses != 3 || st.Heads != 1 {
		t.Errorf("footers loaded %d times with %d HEADs; want 3 and 1", st.FooterMisses, st.Heads)
	}

	// A flipped byte in an object on MinIO is caught too.
	k := coldKey(1, 0)
	ext := f.cat.extents[k][2]
	f.flipObject(t, ext.Object, "bad/minio", ext.Pos+ext.Len/2)
	r2 := newTestReader(t, f, rcfg)
	var readErr error
	for off := ext.BaseOffset; off <= ext.LastOffset && readErr == nil; {
		var data []byte
		data, readErr = r2.Read(context.Background(), k, off, ext.LastOffset+1, 1<<20)
		if readErr == nil {
			off = nextOffsetOf(t, data)
		}
	}
	wantCorruption(t, readErr, "bad/minio")
}
