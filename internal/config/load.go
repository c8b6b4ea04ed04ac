package config

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meetnoc/meetnoc/collectors/snmp/profiles"
)

// Load reads the config at path with everything it refers to (target files, profile
// files, secret files), applies defaults and validates it whole. On failure the error
// is Errors: every problem, each naming file, line and key.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadBytes(data, path)
}

// LoadBytes is Load for a config already in memory; name is the file name used in
// errors, and relative paths inside the config are resolved from its directory.
func LoadBytes(data []byte, name string) (*Config, error) {
	l := &loader{dir: filepath.Dir(name), decoders: map[string]*decoder{}}
	cfg := &Config{File: name}
	l.decodeYAML(name, data, cfg)
	if len(l.errs) == 0 {
		for i, t := range cfg.SNMP.Targets {
			if t != nil {
				t.file, t.path = name, fmt.Sprintf("snmp.targets[%d]", i)
			}
		}
		l.loadTargetFiles(cfg)
		cfg.Profiles = l.loadProfiles(cfg.File, cfg.SNMP.ProfileFiles)
	}
	if len(l.errs) > 0 {
		// Decode errors leave zero values behind; validating those would only add noise.
		return nil, l.errs.sorted()
	}
	l.applyDefaults(cfg)
	l.readSecrets(cfg)
	l.validate(cfg)
	if len(l.errs) > 0 {
		return nil, l.errs.sorted()
	}
	return cfg, nil
}

type loader struct {
	dir      string
	errs     Errors
	decoders map[string]*decoder // by file name, for the line of a key path
}

// decodeYAML parses one YAML document from data into out.
func (l *loader) decodeYAML(file string, data []byte, out any) {
	d := &decoder{file: file, errs: &l.errs, lines: map[string]int{}}
	l.decoders[file] = d
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if err.Error() == "EOF" {
			return // an empty file is an empty config
		}
		l.errs.add(syntaxError(file, err))
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.errs.add(&Error{File: file, Line: extra.Line, Msg: "more than one YAML document; meetnoc reads only one"})
	}
	d.decode(&root, reflect.ValueOf(out).Elem(), "")
}

// line finds the line of path in file, or of its nearest parent that has one.
func (l *loader) line(file, p string) int {
	d := l.decoders[file]
	if d == nil {
		return 0
	}
	for p != "" {
		if n, ok := d.lines[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// has reports whether the key at path was written in file (to tell an explicit 0 from a default).
func (l *loader) has(file, p string) bool {
	d := l.decoders[file]
	if d == nil {
		return false
	}
	_, ok := d.lines[p]
	return ok
}

func (l *loader) errorf(file, p, format string, args ...any) {
	l.errs.add(&Error{File: file, Line: l.line(file, p), Path: p, Msg: fmt.Sprintf(format, args...)})
}

// resolve makes a path from the config relative to the config's directory.
func (l *loader) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.dir, p)
}

// loadTargetFiles appends the targets of every file matched by snmp.target_files. Each
// file is a YAML list of targets, so that an inventory export (NetBox, a spreadsheet)
// can write it without knowing the rest of the config.
func (l *loader) loadTargetFiles(cfg *Config) {
	for i, glob := range cfg.SNMP.TargetFiles {
		p := fmt.Sprintf("snmp.target_files[%d]", i)
		matches, err := filepath.Glob(l.resolve(glob))
		if err != nil {
			l.errorf(cfg.File, p, "bad glob %q: %v", glob, err)
			continue
		}
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil {
				l.errorf(cfg.File, p, "%v", err)
				continue
			}
			var targets []*Target
			l.decodeYAML(m, data, &targets)
			for j, t := range targets {
				if t == nil {
					l.errorf(m, fmt.Sprintf("[%d]", j), "empty target")
					continue
				}
				t.file, t.path = m, fmt.Sprintf("[%d]", j)
				cfg.SNMP.Targets = append(cfg.SNMP.Targets, t)
			}
		}
	}
}

// loadProfiles reads the embedded profiles, then the user's: a user profile with the
// name of an embedded one replaces it, so a site can fix a vendor quirk without a rebuild.
func (l *loader) loadProfiles(cfgFile string, globs []string) map[string]*Profile {
	out := map[string]*Profile{}
	embedded, err := fs.Glob(profiles.FS, "*.yml")
	if err != nil {
		panic(err) // the pattern is constant
	}
	for _, name := range embedded {
		data, err := profiles.FS.ReadFile(name)
		if err != nil {
			panic(err)
		}
		l.addProfile(out, "embedded:"+name, data, false)
	}
	for i, glob := range globs {
		matches, err := filepath.Glob(l.resolve(glob))
		if err != nil {
			l.errorf(cfgFile, fmt.Sprintf("snmp.profile_files[%d]", i), "bad glob %q: %v", glob, err)
			continue
		}
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil {
				l.errs.add(&Error{File: m, Msg: err.Error()})
				continue
			}
			l.addProfile(out, m, data, true)
		}
	}
	return out
}

func (l *loader) addProfile(out map[string]*Profile, file string, data []byte, user bool) {
	p := &Profile{File: file}
	l.decodeYAML(file, data, p)
	if p.Name == "" {
		p.Name = strings.TrimSuffix(path.Base(filepath.ToSlash(file)), path.Ext(file))
	}
	// A user's profile may replace an embedded one; any other clash is a mistake.
	if prev, ok := out[p.Name]; ok && !(user && strings.HasPrefix(prev.File, "embedded:")) {
		l.errorf(file, "name", "profile %q is also defined in %s", p.Name, prev.File)
		return
	}
	out[p.Name] = p
}

// readSecrets replaces every *_file reference by the file's content, so that the rest
// of meetnoc sees one place for each secret. Files are read at every (re)load, so a
// rotated credential takes effect on reload.
func (l *loader) readSecrets(cfg *Config) {
	names := make([]string, 0, len(cfg.SNMP.Auths))
	for name := range cfg.SNMP.Auths {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		a := cfg.SNMP.Auths[name]
		if a == nil {
			continue
		}
		p := "snmp.auths." + name
		l.readSecret(cfg.File, p, "community", &a.Community, a.CommunityFile)
		l.readSecret(cfg.File, p, "auth_password", &a.AuthPassword, a.AuthPasswordFile)
		l.readSecret(cfg.File, p, "priv_password", &a.PrivPassword, a.PrivPasswordFile)
	}
}

func (l *loader) readSecret(file, p, key string, value *Secret, from string) {
	if from == "" {
		return
	}
	if *value != "" {
		l.errorf(file, p+"."+key+"_file", "set either %s or %s_file, not both", key, key)
		return
	}
	// ${VAR} in the path: systemd's LoadCredential= hands secrets over in
	// $CREDENTIALS_DIRECTORY, whose location the config cannot know in advance.
	var unset []string
	from = os.Expand(from, func(v string) string {
		val, ok := os.LookupEnv(v)
		if !ok {
			unset = append(unset, v)
		}
		return val
	})
	if len(unset) > 0 {
		l.errorf(file, p+"."+key+"_file", "environment variable %s is not set", strings.Join(unset, ", "))
		return
	}
	data, err := os.ReadFile(l.resolve(from))
	if err != nil {
		// The error names the file, never its content.
		l.errorf(file, p+"."+key+"_file", "%v", err)
		return
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		l.errorf(file, p+"."+key+"_file", "%s is empty", from)
		return
	}
	*value = Secret(s)
}

// syntaxError turns yaml.v3's "yaml: line N: msg" into file:N: msg.
func syntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return &Error{File: file, Line: line, Msg: msg}
}
