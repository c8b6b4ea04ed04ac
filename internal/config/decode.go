package config

import (
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The decoder walks yaml.Node trees itself instead of using yaml.v3's Decode, because
// a NOC engineer fixing a config at 2 a.m. needs every error at once, each with the
// file, the line and the dotted key path ("snmp.targets[3].interval"), and yaml.v3
// stops at the first unknown key and does not name the path.

var (
	durationType = reflect.TypeOf(time.Duration(0))
	prefixType   = reflect.TypeOf(netip.Prefix{})
	addrType     = reflect.TypeOf(netip.Addr{})
)

type decoder struct {
	file   string
	errs   *Errors
	lines  map[string]int // key path → line of the key (or value) in file
	prefix string         // prepended to every path (target files: "")
}

func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.errs.add(&Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// decode fills v (a pointer) from node, recording errors and key lines.
func (d *decoder) decode(node *yaml.Node, v reflect.Value, path string) {
	if node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			return
		}
		node = node.Content[0]
	}
	if node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	if _, seen := d.lines[path]; !seen && path != "" {
		d.lines[path] = node.Line
	}
	if isNull(node) {
		return // an empty key keeps its zero value (the default)
	}
	t := v.Type()
	switch {
	case t == durationType:
		s := node.Value
		dur, err := time.ParseDuration(s)
		if node.Kind != yaml.ScalarNode || err != nil {
			d.errorf(node.Line, path, "%s is not a duration (use e.g. 30s, 5m, 1h)", show(node))
			return
		}
		v.SetInt(int64(dur))
		return
	case t == prefixType:
		p, err := netip.ParsePrefix(node.Value)
		if node.Kind != yaml.ScalarNode || err != nil {
			d.errorf(node.Line, path, "%s is not an IP prefix (e.g. 2001:db8:100::/56 or 100.64.0.0/16)", show(node))
			return
		}
		if p.Masked() != p {
			d.errorf(node.Line, path, "prefix %s has host bits set (did you mean %s?)", p, p.Masked())
			return
		}
		v.Set(reflect.ValueOf(p))
		return
	case t == addrType:
		a, err := netip.ParseAddr(node.Value)
		if node.Kind != yaml.ScalarNode || err != nil {
			d.errorf(node.Line, path, "%s is not an IP address", show(node))
			return
		}
		v.Set(reflect.ValueOf(a))
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		elem := reflect.New(t.Elem())
		d.decode(node, elem.Elem(), path)
		v.Set(elem)
	case reflect.Struct:
		d.decodeStruct(node, v, path)
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			d.errorf(node.Line, path, "expected a list, got %s", show(node))
			return
		}
		s := reflect.MakeSlice(t, len(node.Content), len(node.Content))
		for i, item := range node.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			d.errorf(node.Line, path, "expected a mapping, got %s", show(node))
			return
		}
		m := reflect.MakeMapWithSize(t, len(node.Content)/2)
		seen := map[string]bool{}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, val := node.Content[i], node.Content[i+1]
			kpath := joinPath(path, k.Value)
			if seen[k.Value] {
				d.errorf(k.Line, kpath, "duplicate key")
				continue
			}
			seen[k.Value] = true
			key := reflect.New(t.Key()).Elem()
			d.decode(k, key, kpath)
			elem := reflect.New(t.Elem()).Elem()
			d.decode(val, elem, kpath)
			m.SetMapIndex(key, elem)
		}
		v.Set(m)
	case reflect.String:
		if node.Kind != yaml.ScalarNode {
			d.errorf(node.Line, path, "expected a string, got %s", show(node))
			return
		}
		v.SetString(node.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(node.Value)
		if node.Kind != yaml.ScalarNode || err != nil {
			d.errorf(node.Line, path, "%s is not a boolean (true or false)", show(node))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(node.Value, 0, t.Bits())
		if node.Kind != yaml.ScalarNode || err != nil {
			d.errorf(node.Line, path, "%s is not an integer", show(node))
			return
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(node.Value, 0, t.Bits())
		if node.Kind != yaml.ScalarNode || err != nil {
			d.errorf(node.Line, path, "%s is not an integer from 0 to %d", show(node), uint64(1)<<t.Bits()-1)
			return
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(node.Value, 64)
		if node.Kind != yaml.ScalarNode || err != nil || math.IsNaN(f) {
			d.errorf(node.Line, path, "%s is not a number", show(node))
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: no decoder for %s", t))
	}
}

func (d *decoder) decodeStruct(node *yaml.Node, v reflect.Value, path string) {
	if node.Kind != yaml.MappingNode {
		d.errorf(node.Line, path, "expected a mapping, got %s", show(node))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, val := node.Content[i], node.Content[i+1]
		kpath := joinPath(path, k.Value)
		idx, ok := fields[k.Value]
		switch {
		case !ok:
			d.errorf(k.Line, kpath, "unknown key%s", suggest(k.Value, fields))
			continue
		case seen[k.Value]:
			d.errorf(k.Line, kpath, "duplicate key")
			continue
		}
		seen[k.Value] = true
		d.lines[kpath] = k.Line
		d.decode(val, v.Field(idx), kpath)
	}
}

// yamlFields maps the yaml keys of a struct to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		out[tag] = i
	}
	return out
}

// suggest names the closest known key, for typos like "comunity".
func suggest(key string, fields map[string]int) string {
	best, bestDist := "", 3
	for name := range fields {
		if dist := editDistance(key, name); dist < bestDist || dist == bestDist && name < best {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func show(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
