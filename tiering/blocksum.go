package tiering

import (
	"hash/crc32"

	"github.com/shalelog/shale/internal/crc32c"
)

// A cached block carries, besides its bytes, the CRC-32C of each
// sumChunk-byte chunk of them, computed as the GET's body arrives, while
// the bytes are still in the CPU's cache. Verifying a batch then needs the
// CRC of an arbitrary byte range [s, e) (the batch from its attributes to
// its end), which is put together from the chunks it covers:
//
//	block    |  chunk 0  |  chunk 1  |  chunk 2  |  chunk 3  |
//	range          [s ............................... e)
//	           head: hashed    whole chunks:     tail: hashed
//	           from the bytes  their sums,       from the bytes
//	                           combined
//
// Only the head and tail (less than two chunks per range) are read again;
// a range spanning blocks continues in the next block the same way, so a
// batch that crosses a block boundary is verified without being copied
// together.
//
// Combining: CRC-32C (like every CRC) is linear over GF(2). For Go's
// checksum (register preset to all ones, result inverted),
//
//	crc(A || B) = Z_len(B)(crc(A)) XOR crc(B)
//
// where Z_n is the linear map "feed n zero bytes to the bare register":
// multiplication by x^(8n) modulo the polynomial, computed once for
// n = sumChunk (internal/crc32c.ShiftBy).

// sumChunk is the span of one chunk checksum of a block.
const sumChunk = 16 << 10

// sumWindow is how many bytes of a GET body are read before their chunks
// are summed: small enough to still be in the CPU's cache, large enough to
// keep read calls few. A multiple of sumChunk.
const sumWindow = 256 << 10

// cachedBlock is one block of an object and its chunk checksums:
// sums[i] = crc32c(data[i*sumChunk : min((i+1)*sumChunk, len(data))]).
type cachedBlock struct {
	data []byte
	sums []uint32
}

// castagnoli is the CRC-32C table RecordBatch v2 uses.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// chunkShift combines a CRC with the next whole chunk's sum.
var chunkShift = crc32c.ShiftBy(sumChunk)

// chunkSums returns the chunk checksums of data.
func chunkSums(data []byte, sums []uint32) []uint32 {
	for off := 0; off < len(data); off += sumChunk {
		sums = append(sums, crc32.Checksum(data[off:min(off+sumChunk, len(data))], castagnoli))
	}
	return sums
}

// rangeCRC extends crc (a CRC-32C of the bytes before from) with the bytes
// [from, to) of b, using b's chunk sums for the whole chunks inside.
func (b *cachedBlock) rangeCRC(crc uint32, from, to int) uint32 {
	if len(b.sums) == 0 {
		return crc32.Update(crc, castagnoli, b.data[from:to])
	}
	// Head: up to the first chunk boundary.
	if r := from % sumChunk; r != 0 {
		end := min(to, from-r+sumChunk)
		crc = crc32.Update(crc, castagnoli, b.data[from:end])
		from = end
	}
	// Whole chunks: combined from their sums. A block's last chunk may be
	// short; it is hashed as a tail.
	for from+sumChunk <= to {
		crc = chunkShift.Combine(crc, b.sums[from/sumChunk])
		from += sumChunk
	}
	if from < to {
		crc = crc32.Update(crc, castagnoli, b.data[from:to])
	}
	return crc
}
