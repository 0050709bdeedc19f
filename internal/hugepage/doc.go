// Package hugepage asks the kernel to back large buffers that are about to
// be filled for the first time with transparent huge pages.
//
// The broker's large buffers (object-tier blocks, object bodies, produce
// request frames, segment reads) are filled front to back in memory the
// process has not touched before whenever its heap grows: with 4 KiB pages
// that is a page fault, and the kernel zeroing the page, every 4 KiB. On
// the project's virtualized machine such a fault measured about 12 µs, more
// than copying and checksumming the page's bytes. Advice (Advise) makes it
// one fault per 2 MiB where the system allows huge pages ("madvise" or
// "always" in /sys/kernel/mm/transparent_hugepage/enabled); it changes no
// contents and is ignored elsewhere.
package hugepage
