package netns

import (
	"errors"
	"io/fs"
	"runtime"
	"strings"
	"testing"
)

func TestPathAndCheckName(t *testing.T) {
	for _, c := range []struct {
		name, path string
		ok         bool
	}{
		{"ietf-leg", "/run/netns/ietf-leg", true},
		{"/proc/1/ns/net", "/proc/1/ns/net", true},
		{"", "", false},
		{"..", "", false},
		{"a/b", "", false},
	} {
		err := CheckName(c.name)
		if (err == nil) != c.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", c.name, err, c.ok)
		}
		if c.ok && Path(c.name) != c.path {
			t.Errorf("Path(%q) = %q, want %q", c.name, Path(c.name), c.path)
		}
	}
}

// A namespace that is not there: f never runs, the error names the file, and
// the thread is usable again.
func TestDoMissing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("network namespaces are Linux's")
	}
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
