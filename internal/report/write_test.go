package report

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func testReport() *Report {
	share := 0.8
	return &Report{
		Title: "IETF test", From: time.Date(2026, 3, 14, 8, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 20, 18, 0, 0, 0, time.UTC),
		IPv6BytesShare: &share, Overall: SSIDFigures{SSID: "all", IPv6BytesShare: &share}, Definitions: Definitions,
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// WriteDir writes all three files, replaces an earlier report whole, refuses
// a directory that is not a report, and leaves nothing behind when a writer
// fails.
func TestWriteDir(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "ietf125")
	if err := WriteDir(out, testReport()); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, out); !slices.Equal(got, []string{"report.html", "report.json", "report.md"}) {
		t.Errorf("files %v", got)
	}
	// An earlier report is replaced, files it had that this run does not
	// write included.
	if err := os.WriteFile(filepath.Join(out, "stale.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(out, testReport()); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, out); slices.Contains(got, "stale.txt") {
		t.Errorf("the earlier report's files stayed: %v", got)
	}
	if got := dirNames(t, parent); !slices.Equal(got, []string{"ietf125"}) {
		t.Errorf("left beside --out: %v", got)
	}

	// Someone's directory that is not a report.
	foreign := filepath.Join(parent, "home")
	os.Mkdir(foreign, 0o755)
	os.WriteFile(filepath.Join(foreign, "thesis.tex"), []byte("x"), 0o644)
	if err := WriteDir(foreign, testReport()); err == nil || !strings.Contains(err.Error(), "no earlier report") {
		t.Errorf("WriteDir into a foreign directory: %v", err)
	}
	if got := dirNames(t, foreign); !slices.Equal(got, []string{"thesis.tex"}) {
		t.Errorf("foreign directory now holds %v", got)
	}

	// A writer fails half-way: the earlier report stays as it was, and no
	// temporary directory is left.
	before, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	saved := Files
	Files = append(Files[:2:2], struct {
		Name  string
		Write func(io.Writer, *Report) error
	}{"report.json", func(w io.Writer, r *Report) error {
		io.WriteString(w, "{half")
		return errors.New("disk full")
	}})
	err = WriteDir(out, testReport())
	Files = saved
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("failing writer: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if string(after) != string(before) {
		t.Error("a failed run changed the earlier report")
	}
	if got := dirNames(t, parent); !slices.Equal(got, []string{"home", "ietf125"}) {
		t.Errorf("left beside --out after a failure: %v", got)
	}
}

// Compare pairs the headline figures of two reports, with a delta where both
// are known.
func TestCompare(t *testing.T) {
	now, prev := testReport(), testReport()
	p := 0.6
	prev.Overall.IPv6BytesShare = &p
	prev.SSIDs = []SSIDFigures{{SSID: "ietf", PeakClients: &p}}
	changes := Compare(now, prev)
	find := func(name string) Change {
		for _, c := range changes {
			if c.Figure == name {
				return c
			}
		}
		t.Fatalf("no change for %s in %v", name, changes)
		return Change{}
	}
	c := find("overall.ipv6_bytes_share")
	if c.Delta == nil || *c.Delta < 0.2-1e-9 || *c.Delta > 0.2+1e-9 {
		t.Errorf("overall share change %+v", c)
	}
	// An SSID only the previous meeting had: no value now, no delta.
	if c := find("ssids[ietf].peak_clients"); c.Now != nil || c.Previous == nil || c.Delta != nil {
		t.Errorf("ssids[ietf].peak_clients %+v", c)
	}
}
