package report

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Files are what WriteDir writes.
var Files = []struct {
	Name  string
	Write func(io.Writer, *Report) error
}{
	{"report.html", WriteHTML},
	{"report.md", WriteMarkdown},
	{"report.json", WriteJSON},
}

// WriteDir writes the report's files into dir, whole or not at all: they are
// written into a new directory beside it and renamed into place, so that a
// failure leaves nothing half-written at dir, and a reader never sees a mix
// of two runs. An existing dir is replaced only if it is empty or holds an
// earlier report (report.json); anything else there is not ours to delete.
func WriteDir(dir string, r *Report) (err error) {
	dir = filepath.Clean(dir)
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := replaceable(dir); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	for _, f := range Files {
		if err := writeFile(filepath.Join(tmp, f.Name), r, f.Write); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if _, err := os.Stat(dir); err == nil {
		old := tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			os.Rename(old, dir) // put the earlier report back
			return fmt.Errorf("report: %w", err)
		}
		return os.RemoveAll(old)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// replaceable says whether dir may be replaced: absent, empty, or a report.
func replaceable(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("report: --out %s: %w", dir, err)
	case len(entries) == 0:
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err != nil {
		return fmt.Errorf("report: --out %s exists and holds no earlier report (no report.json): not replacing it", dir)
	}
	return nil
}

func writeFile(path string, r *Report, write func(io.Writer, *Report) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := write(f, r); err != nil {
		f.Close()
		return fmt.Errorf("report: %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("report: %w", err)
	}
	return f.Close()
}
