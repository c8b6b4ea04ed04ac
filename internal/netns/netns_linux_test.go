package netns

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// A namespace that is not there: f never runs, the error names the file, and
// the thread is usable again.
func TestDoMissing(t *testing.T) {
	ran := false
	err := Do(Path("meetnoc-test-no-such-namespace"), func() error { ran = true; return nil })
	if err == nil || ran || !strings.Contains(err.Error(), "/run/netns/meetnoc-test-no-such-namespace") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Do on a missing namespace: err %v, f ran %v", err, ran)
	}
	err = <-Go(Path("meetnoc-test-no-such-namespace"), func() error { ran = true; return nil })
	if err == nil || ran {
		t.Errorf("Go on a missing namespace: err %v, f ran %v", err, ran)
	}
}
