//go:build unix && !linux

package traffic

func adviseSequential([]byte) {}

func releasePages([]byte) {}
