package traffic

import "syscall"

// adviseSequential asks for aggressive read-ahead: a replay reads the file once,
// front to back.
func adviseSequential(b []byte) { _ = syscall.Madvise(b, syscall.MADV_SEQUENTIAL) }

// releasePages drops pages already read from the process; they stay in the page
// cache, and reading them again would fault them back in.
func releasePages(b []byte) { _ = syscall.Madvise(b, syscall.MADV_DONTNEED) }
