package broker

import (
	"math/bits"
	"sync"
)

// Request frames of produce requests are the broker's largest allocations
// (one per request, up to a MiB and more under load). A fresh frame costs
// the zeroing of a large allocation, page faults on memory the runtime
// gave back to the kernel, and collections; so frames of at least
// minPooledFrame bytes come from free lists of size classes and produce
// requests give theirs back once nothing refers to it any more
// (reqCtx.recycleFrame). A frame that is not given back is collected as
// before.
//
// The free lists keep at most framePoolBytes in all. They are not
// sync.Pools: those are emptied by every other collection, which under
// produce comes every second or so, and each emptying meant fresh frames
// and their page faults again.
//
// Classes are eight per power of two, so a frame holds at most an eighth
// more memory than it was asked for (the request memory budgets count the
// asked size).
const (
	minPooledFrame   = 64 << 10
	maxPooledFrame   = 64 << 20
	frameClassesLog2 = 3 // classes per power of two: 1 << frameClassesLog2
	framePoolBytes   = 16 << 20
)

var framePool struct {
	mu    sync.Mutex
	bytes int // capacity of the frames held
	free  [bits.UintSize * (1 << frameClassesLog2)][][]byte
}

// frameClass returns the pool index and capacity of frames of size n
// (minPooledFrame <= n <= maxPooledFrame).
func frameClass(n int) (int, int) {
	k := bits.Len(uint(n - 1))                  // 2^(k-1) < n <= 2^k
	step := 1 << (k - 1 - frameClassesLog2)     // an eighth of 2^(k-1)
	m := (n - (1 << (k - 1)) + step - 1) / step // 1..8 steps above 2^(k-1)
	return k<<frameClassesLog2 | (m - 1), 1<<(k-1) + m*step
}

// getFrame returns a buffer of n bytes whose contents are undefined.
func getFrame(n int) []byte {
	if n < minPooledFrame || n > maxPooledFrame {
		return make([]byte, n)
	}
	i, c := frameClass(n)
	fp := &framePool
	fp.mu.Lock()
	// The smallest free frame of this class or up to twice its size.
	for j := i; j < len(fp.free) && j <= i+(1<<frameClassesLog2); j++ {
		if l := fp.free[j]; len(l) > 0 {
			b := l[len(l)-1]
			l[len(l)-1] = nil
			fp.free[j] = l[:len(l)-1]
			fp.bytes -= cap(b)
			fp.mu.Unlock()
			return b[:n]
		}
	}
	fp.mu.Unlock()
	return make([]byte, n, c)
}

// putFrame gives b, which getFrame returned and nothing refers to any
// more, back for reuse.
func putFrame(b []byte) {
	n := cap(b)
	if n < minPooledFrame || n > maxPooledFrame {
		return
	}
	i, c := frameClass(n)
	if c != n {
		return // not a class size: not from getFrame
	}
	fp := &framePool
	fp.mu.Lock()
	defer fp.mu.Unlock()
	// Over the limit, frames of other classes make room, largest class
	// first: the sizes in use change with the load, and frames of sizes
	// no longer asked for must not fill the lists for good.
	for j := len(fp.free) - 1; j >= 0 && fp.bytes+n > framePoolBytes; j-- {
		for j != i && len(fp.free[j]) > 0 && fp.bytes+n > framePoolBytes {
			l := fp.free[j]
			fp.bytes -= cap(l[len(l)-1])
			l[len(l)-1] = nil
			fp.free[j] = l[:len(l)-1]
		}
	}
	if fp.bytes+n <= framePoolBytes {
		fp.free[i] = append(fp.free[i], b[:n])
		fp.bytes += n
	}
}
