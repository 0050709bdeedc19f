package index

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// TrailerSize is the size of the fixed trailer at the end of every object.
const TrailerSize = 32

// FormatVersion is the object format version this package writes.
const FormatVersion = 1

// MaxFooterLen bounds the footer a reader will accept (64 MiB). At about
// 8 bytes per sparse entry that is several million entries: far more than a
// compacted segment of hundreds of GiB needs at the default interval.
const MaxFooterLen = 64 << 20

// trailerMagic ends every object.
const trailerMagic = "SHLX"

// Trailer field positions.
const (
	trailerDataLen    = 0
	trailerFooterLen  = 8
	trailerFooterCRC  = 16
	trailerCRC        = 20
	trailerVersion    = 24
	trailerFlags      = 26
	trailerMagicStart = 28
)

// castagnoli is the CRC-32C table; it is never modified.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// trailerFields is the decoded fixed trailer.
type trailerFields struct {
	dataLen   int64
	footerLen int64
	footerCRC uint32
}

func appendTrailer(dst []byte, t trailerFields) []byte {
	var b [TrailerSize]byte
	binary.BigEndian.PutUint64(b[trailerDataLen:], uint64(t.dataLen))
	binary.BigEndian.PutUint64(b[trailerFooterLen:], uint64(t.footerLen))
	binary.BigEndian.PutUint32(b[trailerFooterCRC:], t.footerCRC)
	binary.BigEndian.PutUint32(b[trailerCRC:], crc32.Checksum(b[:trailerCRC], castagnoli))
	binary.BigEndian.PutUint16(b[trailerVersion:], FormatVersion)
	binary.BigEndian.PutUint16(b[trailerFlags:], 0)
	copy(b[trailerMagicStart:], trailerMagic)
	return append(dst, b[:]...)
}

// decodeTrailer parses the last TrailerSize bytes of tail. at is the object
// offset of those bytes, or -1 if the caller does not know it; it is only
// used in errors.
func decodeTrailer(tail []byte, at int64) (trailerFields, error) {
	if len(tail) < TrailerSize {
		return trailerFields{}, fmt.Errorf("decode trailer: need %d bytes, have %d", TrailerSize, len(tail))
	}
	b := tail[len(tail)-TrailerSize:]
	field := func(pos int64) int64 {
		if at < 0 {
			return -1
		}
		return at + pos
	}
	if string(b[trailerMagicStart:]) != trailerMagic {
		return trailerFields{}, corruptf(field(trailerMagicStart), "bad trailer magic %q, want %q", b[trailerMagicStart:], trailerMagic)
	}
	if v := binary.BigEndian.Uint16(b[trailerVersion:]); v != FormatVersion {
		return trailerFields{}, fmt.Errorf("decode trailer: %w %d (this reader knows %d)", ErrUnsupportedVersion, v, FormatVersion)
	}
	if f := binary.BigEndian.Uint16(b[trailerFlags:]); f != 0 {
		return trailerFields{}, corruptf(field(trailerFlags), "unknown trailer flags %#04x", f)
	}
	want := binary.BigEndian.Uint32(b[trailerCRC:])
	if got := crc32.Checksum(b[:trailerCRC], castagnoli); got != want {
		return trailerFields{}, corruptf(field(trailerCRC), "trailer CRC %#08x, stored %#08x", got, want)
	}
	dataLen := binary.BigEndian.Uint64(b[trailerDataLen:])
	footerLen := binary.BigEndian.Uint64(b[trailerFooterLen:])
	if footerLen > MaxFooterLen {
		return trailerFields{}, corruptf(field(trailerFooterLen), "footer length %d exceeds limit %d", footerLen, MaxFooterLen)
	}
	if dataLen > math.MaxInt64-MaxFooterLen-TrailerSize {
		return trailerFields{}, corruptf(field(trailerDataLen), "data length %d too large", dataLen)
	}
	return trailerFields{
		dataLen:   int64(dataLen),
		footerLen: int64(footerLen),
		footerCRC: binary.BigEndian.Uint32(b[trailerFooterCRC:]),
	}, nil
}

// DecodeTrailer parses the fixed trailer from the last TrailerSize bytes of
// tail (normally exactly the object's last TrailerSize bytes) and returns the
// length of the footer that precedes it. A damaged trailer gives a
// *CorruptionError with Offset -1 (the object size is unknown here); an
// unknown version gives an error wrapping ErrUnsupportedVersion; a tail
// shorter than TrailerSize gives a plain error.
func DecodeTrailer(tail []byte) (footerLen int64, err error) {
	t, err := decodeTrailer(tail, -1)
	if err != nil {
		return 0, err
	}
	return t.footerLen, nil
}

// DecodeFooter CRC-checks and parses footer, the footerLen bytes that come
// before the trailer; trailer holds the trailer in its last TrailerSize
// bytes. The returned Footer does not refer to footer's memory.
func DecodeFooter(footer []byte, trailer []byte) (*Footer, error) {
	t, err := decodeTrailer(trailer, -1)
	if err != nil {
		return nil, err
	}
	return decodeFooterChecked(footer, t)
}

func decodeFooterChecked(footer []byte, t trailerFields) (*Footer, error) {
	if int64(len(footer)) != t.footerLen {
		return nil, fmt.Errorf("decode footer: got %d bytes, trailer says %d", len(footer), t.footerLen)
	}
	if got := crc32.Checksum(footer, castagnoli); got != t.footerCRC {
		return nil, corruptf(t.dataLen, "footer CRC %#08x, stored %#08x", got, t.footerCRC)
	}
	return decodeFooter(footer, t.dataLen)
}

// ParseTail decodes the footer from tail, the last len(tail) bytes of an
// object of objectSize bytes. Readers fetch a guess (a few KiB) of the tail
// in one ranged GET; if that was too short, ParseTail returns a nil Footer
// and needMore > 0: the number of bytes at the end of the object to fetch
// before calling again. needMore is at most MaxFooterLen+TrailerSize.
func ParseTail(tail []byte, objectSize int64) (f *Footer, needMore int64, err error) {
	if int64(len(tail)) > objectSize {
		return nil, 0, fmt.Errorf("parse tail: %d tail bytes exceed object size %d", len(tail), objectSize)
	}
	if objectSize < TrailerSize {
		return nil, 0, corruptf(0, "object of %d bytes is smaller than the %d-byte trailer", objectSize, TrailerSize)
	}
	if len(tail) < TrailerSize {
		return nil, TrailerSize, nil
	}
	trailerAt := objectSize - TrailerSize
	t, err := decodeTrailer(tail, trailerAt)
	if err != nil {
		return nil, 0, err
	}
	if described := t.dataLen + t.footerLen + TrailerSize; described != objectSize {
		return nil, 0, corruptf(trailerAt, "trailer describes a %d-byte object, object has %d bytes", described, objectSize)
	}
	need := t.footerLen + TrailerSize
	if int64(len(tail)) < need {
		return nil, need, nil
	}
	footer := tail[int64(len(tail))-need : len(tail)-TrailerSize]
	f, err = decodeFooterChecked(footer, t)
	if err != nil {
		return nil, 0, err
	}
	return f, 0, nil
}
