//go:build !unix

package traffic

import "os"

// mappedPcap is only used on Unix; elsewhere every file goes through pcapgo.
type mappedPcap struct{ packetReader }

func mapPcap(*os.File, string) (*mappedPcap, bool, error) { return nil, false, nil }

func (*mappedPcap) Close() error { return nil }
