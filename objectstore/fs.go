package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
)

// FS is the embedded driver: each key is a file under one directory, the
// key's "/" segments being subdirectories.
//
// Put writes a temporary file in the target's directory, fsyncs it, renames
// it over the target and fsyncs the directory, so after a crash the key holds
// either the old object or the new one, and a returned nil means the object
// survives power loss. Temporary files left by a crash are never listed or
// read (their names begin with ".shale-tmp-", which no key segment may) and
// are cleared on the next NewFS.
//
// A key cannot be both an object and a directory on a filesystem, so unlike
// S3 the fs driver cannot store "a" and "a/b" at once; the second Put fails.
type FS struct {
	root   string
	closed atomic.Bool
}

var _ Bucket = (*FS)(nil)

// NewFS opens (creating if needed) a bucket rooted at dir.
func NewFS(dir string) (Bucket, error) {
	return newFS(dir)
}

func newFS(dir string) (*FS, error) {
	if dir == "" {
		return nil, errors.New("open fs bucket: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open fs bucket %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("open fs bucket: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("open fs bucket: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open fs bucket: %s is not a directory", abs)
	}
	b := &FS{root: abs}
	if err := b.removeTempFiles(); err != nil {
		return nil, fmt.Errorf("open fs bucket: %w", err)
	}
	return b, nil
}

// removeTempFiles deletes files a crashed Put left behind.
func (b *FS) removeTempFiles() error {
	return filepath.WalkDir(b.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempMarker) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove temp file: %w", err)
			}
		}
		return nil
	})
}

func (b *FS) path(key string) string {
	return filepath.Join(b.root, filepath.FromSlash(key))
}

func (b *FS) begin(ctx context.Context) error {
	if b.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// Put implements Bucket.
func (b *FS) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := b.put(ctx, key, r, size); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (b *FS) put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	target := b.path(key)
	dir := filepath.Dir(target)
	tmp, err := b.createTemp(dir)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := writeBody(tmp, ctxReader{ctx: ctx, r: r}, size)
	if err != nil {
		return fmt.Errorf("write body: %w", err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("body has %d bytes, want %d", n, size)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	if err := syncDir(dir); err != nil {
		// The object is in place but may not survive a crash; report it so
		// the caller does not count it durable.
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// createTemp makes the temporary file for a Put in dir, creating dir first.
// A concurrent Delete may remove an empty dir between the two steps, so it
// tries again a few times.
func (b *FS) createTemp(dir string) (*os.File, error) {
	var lastErr error
	for range 8 {
		if err := b.mkdirDurable(dir); err != nil {
			return nil, fmt.Errorf("make directory: %w", err)
		}
		f, err := os.CreateTemp(dir, tempMarker+"*")
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("create temp file: %w", err)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("create temp file: %w", lastErr)
}

// mkdirDurable creates dir and any missing parents below the root, syncing
// each parent after adding an entry to it so a crash cannot lose the path to
// an object whose Put returned nil.
func (b *FS) mkdirDurable(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	rel, err := filepath.Rel(b.root, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("directory %s is outside the bucket", dir)
	}
	cur := b.root
	for _, name := range strings.Split(rel, string(filepath.Separator)) {
		next := filepath.Join(cur, name)
		err := os.Mkdir(next, 0o755)
		switch {
		case err == nil || errors.Is(err, fs.ErrExist):
			// An entry made by a concurrent Put may not be synced yet, so
			// sync in both cases. If next is a file, CreateTemp reports it.
			if err := syncDir(cur); err != nil {
				return err
			}
		default:
			return err
		}
		cur = next
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return serr
	}
	return cerr
}

// ReadRange implements Bucket.
func (b *FS) ReadRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if err := checkRange(off, length); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if err := b.begin(ctx); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	f, fi, err := b.openRegular(key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	size := fi.Size()
	n := int64(0)
	if off < size {
		n = size - off
		if length >= 0 && length < n {
			n = length
		}
	}
	return &fileSection{ctx: ctx, f: f, r: io.NewSectionReader(f, min(off, size), n)}, nil
}

// openRegular opens the file of key, mapping "missing" and "a directory, not
// an object" to ErrNotExist.
func (b *FS) openRegular(key string) (*os.File, fs.FileInfo, error) {
	f, err := os.Open(b.path(key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDirSyscall) {
			return nil, nil, ErrNotExist
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, ErrNotExist
	}
	return f, fi, nil
}

// fileSection is a ReadRange body over a file.
type fileSection struct {
	ctx context.Context
	f   *os.File
	r   *io.SectionReader
}

func (s *fileSection) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	return s.r.Read(p)
}

func (s *fileSection) Close() error { return s.f.Close() }

// Stat implements Bucket.
func (b *FS) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	fi, err := os.Stat(b.path(key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDirSyscall) {
			err = ErrNotExist
		}
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, ErrNotExist)
	}
	return ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List implements Bucket.
//
// Directory entries are sorted with each subdirectory named as if it ended
// in "/", which makes a depth-first walk visit keys in the same byte-wise
// order S3 lists them ("a-c" before "a/b", because '-' < '/').
func (b *FS) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := validatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	// Start at the deepest directory the prefix names in full.
	start := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i+1]
	}
	err := b.walk(ctx, start, prefix, fn)
	var fnErr callbackError
	if errors.As(err, &fnErr) {
		return fnErr.err
	}
	if err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}

// callbackError carries an error returned by List's fn through the walk,
// so List can return it unchanged.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// walk lists dirKey (a key prefix ending in "/", or "" for the root).
func (b *FS) walk(ctx context.Context, dirKey, prefix string, fn func(ObjectInfo) error) error {
	entries, err := os.ReadDir(b.path(strings.TrimSuffix(dirKey, "/")))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDirSyscall) {
			return nil // nothing under this prefix, or it vanished meanwhile
		}
		return err
	}
	type entry struct {
		sortKey string
		e       fs.DirEntry
	}
	sorted := make([]entry, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tempMarker) || ValidateKey(name) != nil {
			continue
		}
		if e.IsDir() {
			sorted = append(sorted, entry{name + "/", e})
		} else if e.Type().IsRegular() {
			sorted = append(sorted, entry{name, e})
		}
	}
	slices.SortFunc(sorted, func(a, b entry) int { return strings.Compare(a.sortKey, b.sortKey) })
	for _, ent := range sorted {
		if err := ctx.Err(); err != nil {
			return err
		}
		full := dirKey + ent.sortKey
		if ent.e.IsDir() {
			// Descend only if keys below could carry the prefix.
			if strings.HasPrefix(full, prefix) || strings.HasPrefix(prefix, full) {
				if err := b.walk(ctx, full, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(full, prefix) {
			continue
		}
		fi, err := ent.e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted while listing
			}
			return err
		}
		if err := fn(ObjectInfo{Key: full, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return callbackError{err}
		}
	}
	return nil
}

// Delete implements Bucket. It also removes directories the deletion left
// empty, up to the bucket root.
func (b *FS) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	p := b.path(key)
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDirSyscall) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if fi.IsDir() {
		return nil // a directory is not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	dir := filepath.Dir(p)
	if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: sync dir: %w", key, err)
	}
	// Best effort: a directory that is not empty (or a concurrent Put's)
	// simply stays.
	for dir != b.root && strings.HasPrefix(dir, b.root) {
		if os.Remove(dir) != nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	return nil
}

// Close implements Bucket.
func (b *FS) Close() error {
	b.closed.Store(true)
	return nil
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// TakeBytes implements BytesBody. Once ctx is done it takes nothing, so
// that the next Read reports why.
func (c ctxReader) TakeBytes() ([]byte, bool) {
	if c.ctx.Err() != nil {
		return nil, false
	}
	return TakeBytes(c.r)
}
