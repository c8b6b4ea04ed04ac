package netns

import "testing"

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
