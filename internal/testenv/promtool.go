package testenv

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// Promtool is the path of Prometheus's promtool.
func Promtool(t testing.TB) string {
	t.Helper()
	return Require(t, "promtool")[0]
}

// LintMetrics pipes a text exposition into `promtool check metrics` and returns
// every problem it reports (none for a clean exposition). A promtool that fails
// without saying why is an error.
func LintMetrics(t testing.TB, exposition []byte) []string {
	t.Helper()
	cmd := exec.Command(Promtool(t), "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	var problems []string
	for _, l := range strings.Split(out.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			problems = append(problems, l)
		}
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("promtool check metrics: %v", err)
	}
	if err != nil && len(problems) == 0 {
		t.Fatalf("promtool check metrics failed without output: %v", err)
	}
	return problems
}

// CheckMetrics fails the test for every problem `promtool check metrics` finds in
// the exposition.
func CheckMetrics(t testing.TB, exposition []byte) {
	t.Helper()
	for _, p := range LintMetrics(t, exposition) {
		t.Errorf("promtool check metrics: %s", p)
	}
}
