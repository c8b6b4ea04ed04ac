// Package deploy holds the Prometheus and Alertmanager configs of each
// deployment shape in docs/deployment.md (one-host, ha-pair, sharded). It has no
// code: its test checks the configs with the tools that will read them,
// promtool and amtool.
package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/meetnoc/meetnoc/alerts"

	"gopkg.in/yaml.v3"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// Where the configs point at installed files; the test lays out a scratch root
// with the same paths and rewrites the configs to it.
const (
	// The .deb installs the repository's alerts/*.rules.yml here.
	installedRules = "/usr/share/meetnoc/alerts/"
	// A shape's file_sd/ directory is installed here.
	installedFileSD = "/etc/prometheus/file_sd/"
)

// configs is every file of the shapes matching pattern (prometheus*.yml,
// alertmanager*.yml), failing when there is none.
func configs(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("*", pattern))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no deploy/*/%s", pattern)
	}
	return files
}

// scratchRoot copies the repository's rule files to installedRules under a
// temporary root, as the .deb would, and returns the root and the files'
// names. promtool checks rule files when it checks a config, but a rule_files
// glob that matches nothing passes silently, so the test checks the count too.
func scratchRoot(t *testing.T) (root string, rules []string) {
	t.Helper()
	root = t.TempDir()
	dir := filepath.Join(root, installedRules)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range alerts.RuleFiles() {
		b, err := alerts.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		rules = append(rules, name)
	}
	return root, rules
}

// relocate rewrites a Prometheus config's rule_files and file_sd files to the
// scratch root, copying the shape's file_sd/ files there, and returns the rule
// files promtool must report. Every path must be under one of the install
// locations, so that nothing is left pointing at this machine's /etc.
func relocate(t *testing.T, file, root string, haveRules bool) (rewritten []byte, wantRules []string) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(src, &cfg); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var kept []any
	for _, rf := range list(cfg["rule_files"]) {
		p, _ := rf.(string)
		if !strings.HasPrefix(p, installedRules) {
			t.Errorf("%s: rule file %q is not under %s, where the .deb installs the rules", file, p, installedRules)
			continue
		}
		if !haveRules {
			continue
		}
		p = filepath.Join(root, p)
		matches, err := filepath.Glob(p)
		if err != nil {
			t.Fatalf("%s: rule_files %q: %v", file, p, err)
		}
		if len(matches) == 0 {
			t.Errorf("%s: rule_files %q matches none of alerts/*.rules.yml", file, strings.TrimPrefix(p, root))
		}
		wantRules = append(wantRules, matches...)
		kept = append(kept, p)
	}
	if kept == nil {
		delete(cfg, "rule_files")
	} else {
		cfg["rule_files"] = kept
	}
	for _, sc := range list(cfg["scrape_configs"]) {
		sc, _ := sc.(map[string]any)
		for _, sd := range list(sc["file_sd_configs"]) {
			sd, _ := sd.(map[string]any)
			files := list(sd["files"])
			for i, f := range files {
				p, _ := f.(string)
				rel, ok := strings.CutPrefix(p, installedFileSD)
				if !ok {
					t.Errorf("%s: file_sd file %q is not under %s", file, p, installedFileSD)
					continue
				}
				// The file ships in the shape's file_sd/ directory.
				from := filepath.Join(filepath.Dir(file), "file_sd", rel)
				b, err := os.ReadFile(from)
				if err != nil {
					t.Errorf("%s: file_sd file %s is not shipped: %v", file, p, err)
					continue
				}
				to := filepath.Join(root, p)
				if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(to, b, 0o644); err != nil {
					t.Fatal(err)
				}
				files[i] = to
			}
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(wantRules)
	return out, slices.Compact(wantRules)
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// meetnocJob reports whether a Prometheus config gets the daemons' series
// under job="meetnoc", the job the rules and dashboards select on: by
// scraping them in a job of that name, or by federating that job.
func meetnocJob(cfg []byte) bool {
	var c struct {
		ScrapeConfigs []struct {
			JobName     string              `yaml:"job_name"`
			MetricsPath string              `yaml:"metrics_path"`
			HonorLabels bool                `yaml:"honor_labels"`
			Params      map[string][]string `yaml:"params"`
		} `yaml:"scrape_configs"`
	}
	if yaml.Unmarshal(cfg, &c) != nil {
		return false
	}
	for _, sc := range c.ScrapeConfigs {
		if sc.JobName == "meetnoc" {
			return true
		}
		if sc.MetricsPath == "/federate" && sc.HonorLabels && slices.Contains(sc.Params["match[]"], `{job="meetnoc"}`) {
			return true
		}
	}
	return false
}

var checkedRuleFile = regexp.MustCompile(`(?m)^Checking (\S+\.rules\.yml)$`)

func TestPrometheusConfigs(t *testing.T) {
	promtool := testenv.Promtool(t)
	root, rules := scratchRoot(t)
	for _, file := range configs(t, "prometheus*.yml") {
		t.Run(file, func(t *testing.T) {
			cfg, wantRules := relocate(t, file, root, rules != nil)
			if !meetnocJob(cfg) {
				t.Errorf("%s neither scrapes job meetnoc nor federates {job=\"meetnoc\"} with honor_labels", file)
			}
			// Beside the original, so that a relative path would resolve as
			// it does for Prometheus (relative to the config's directory).
			checked := filepath.Join(root, "etc", "prometheus", strings.ReplaceAll(file, "/", "-"))
			if err := os.MkdirAll(filepath.Dir(checked), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(checked, cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(promtool, "check", "config", checked).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool check config %s: %v\n%s", file, err, out)
			}
			// promtool only warns about a file_sd file that does not exist.
			if bytes.Contains(out, []byte("WARNING")) {
				t.Errorf("promtool check config %s warns:\n%s", file, out)
			}
			var gotRules []string
			for _, m := range checkedRuleFile.FindAllSubmatch(out, -1) {
				gotRules = append(gotRules, string(m[1]))
			}
			slices.Sort(gotRules)
			if !slices.Equal(gotRules, wantRules) {
				t.Errorf("promtool check config %s checked rule files %q, want %q\n%s", file, gotRules, wantRules, out)
			}
		})
	}
}

// ruleAlerts is the set of alert names in the shipped rule files.
func ruleAlerts(t *testing.T) map[string]bool {
	t.Helper()
	rules, err := alerts.Rules()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range rules {
		if r.Alert != "" {
			names[r.Alert] = true
		}
	}
	return names
}

// An alertname matcher: alertname="X", alertname=~"X|Y", and the negations.
var alertnameMatcher = regexp.MustCompile(`alertname(?:=|!=|=~|!~)"([^"]*)"`)

func TestAlertmanagerConfigs(t *testing.T) {
	amtool := testenv.Require(t, "amtool")[0]
	alerts := ruleAlerts(t)
	for _, file := range configs(t, "alertmanager*.yml") {
		t.Run(file, func(t *testing.T) {
			if out, err := exec.Command(amtool, "check-config", file).CombinedOutput(); err != nil {
				t.Fatalf("amtool check-config %s: %v\n%s", file, err, out)
			}
			// critical pages and reaches the chat; warning only the chat.
			for labels, want := range map[string]string{
				"alertname=MeetnocSNMPTargetDown severity=critical target=core1":         "noc-pager,noc-chat",
				"alertname=MeetnocAPDown severity=warning controller=wlc1 ap=ietf-ap-01": "noc-chat",
			} {
				args := append([]string{"config", "routes", "test", "--config.file=" + file}, strings.Fields(labels)...)
				out, err := exec.Command(amtool, args...).Output()
				if err != nil {
					t.Fatalf("amtool %s: %v", strings.Join(args, " "), err)
				}
				if got := strings.TrimSpace(string(out)); got != want {
					t.Errorf("%s routes {%s} to %s, want %s", file, labels, got, want)
				}
			}
			// An inhibit rule or route naming an alert that no rule raises
			// silently does nothing.
			if alerts == nil {
				return
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range alertnameMatcher.FindAllSubmatch(b, -1) {
				for _, name := range strings.Split(string(m[1]), "|") {
					if !alerts[name] {
						t.Errorf("%s matches alertname %q, which no rule in alerts/*.rules.yml raises", file, name)
					}
				}
			}
		})
	}
}
