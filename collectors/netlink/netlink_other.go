//go:build !linux

package netlink

import (
	"context"
	"errors"
	"log/slog"

	"github.com/meetnoc/meetnoc/internal/config"
)

// errNotLinux is why the collector cannot run here: rtnetlink is Linux's.
var errNotLinux = errors.New("netlink: the host view needs Linux (rtnetlink)")

// New fails: the host view reads rtnetlink, which only Linux has.
func New(cfg *config.Config, logger *slog.Logger, opts Options) (*Collector, error) {
	return nil, errNotLinux
}

// Run fails: the host view reads rtnetlink, which only Linux has.
func (c *Collector) Run(ctx context.Context) error { return errNotLinux }
