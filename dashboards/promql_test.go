package dashboards

import (
	"fmt"
	"strconv"
	"strings"
)

// A light PromQL scanner for the lint rules that need to know where a series
// selector sits: which metric, with which matchers, under which function,
// with which range. Whether an expression parses at all is promtool's job
// (TestQueriesAgainstLab runs every query through `promtool check rules`, the
// real parser); github.com/prometheus/prometheus, whose parser
// dashboard-linter uses, is far too big a dependency for a test.

type matcher struct {
	label, op, value string // value unquoted
}

type selector struct {
	metric   string // "" for a bare {…}
	matchers []matcher
	rng      string // the text between [ and ] after it, "" for an instant vector
	call     string // the function or aggregation whose parentheses enclose it directly; "" for none or plain grouping
}

// name is the metric name, from __name__="…" when written that way.
func (s selector) name() string {
	if s.metric != "" {
		return s.metric
	}
	for _, m := range s.matchers {
		if m.label == "__name__" && m.op == "=" {
			return m.value
		}
	}
	return ""
}

type scanned struct {
	selectors []selector
	grouping  []string // labels of by, without, on, ignoring, group_left, group_right
}

type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number or duration, 'v' $variable, 'p' punctuation or operator
	text string
}

func lex(expr string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			toks = append(toks, token{'s', expr[i : j+1]})
			i = j + 1
		case c == '$':
			j := i + 1
			if j < len(expr) && expr[j] == '{' {
				k := strings.IndexByte(expr[j:], '}')
				if k < 0 {
					return nil, fmt.Errorf("unterminated ${ at %d", i)
				}
				j += k + 1
			} else {
				for j < len(expr) && isIdent(expr[j], false) {
					j++
				}
			}
			toks = append(toks, token{'v', expr[i:j]})
			i = j
		case isIdent(c, true):
			j := i
			for j < len(expr) && isIdent(expr[j], false) {
				j++
			}
			toks = append(toks, token{'i', expr[i:j]})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(expr) && expr[i+1] >= '0' && expr[i+1] <= '9':
			j := i
			for j < len(expr) && (isIdent(expr[j], false) || expr[j] == '.' ||
				(expr[j] == '-' || expr[j] == '+') && (expr[j-1] == 'e' || expr[j-1] == 'E')) {
				j++
			}
			toks = append(toks, token{'n', expr[i:j]})
			i = j
		default:
			op := string(c)
			if i+1 < len(expr) {
				if two := expr[i : i+2]; two == "==" || two == "!=" || two == "=~" || two == "!~" || two == ">=" || two == "<=" {
					op = two
				}
			}
			toks = append(toks, token{'p', op})
			i += len(op)
		}
	}
	return toks, nil
}

func isIdent(c byte, first bool) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true,
}

var aggregators = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

var groupingKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// scan finds every selector in expr and the labels it groups or matches on.
func scan(expr string) (scanned, error) {
	toks, err := lex(expr)
	if err != nil {
		return scanned{}, err
	}
	var out scanned
	var stack []string // enclosing parentheses: the call's name, "" for grouping
	top := func() string {
		if len(stack) == 0 {
			return ""
		}
		return stack[len(stack)-1]
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := func(k int) token {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return token{}
		}
		switch {
		case t.kind == 'i' && groupingKeywords[strings.ToLower(t.text)]:
			if next(1).text != "(" {
				continue // group_left without labels
			}
			j := i + 2
			for ; j < len(toks) && toks[j].text != ")"; j++ {
				if toks[j].kind == 'i' {
					out.grouping = append(out.grouping, toks[j].text)
				}
			}
			if j == len(toks) {
				return out, fmt.Errorf("unclosed %s (", t.text)
			}
			i = j
		case t.kind == 'i' && aggregators[strings.ToLower(t.text)] && groupingKeywords[strings.ToLower(next(1).text)]:
			// sum by (a, b) (…): the clause comes before the parentheses.
			if next(2).text != "(" {
				return out, fmt.Errorf("%s %s without labels", t.text, next(1).text)
			}
			j := i + 3
			for ; j < len(toks) && toks[j].text != ")"; j++ {
				if toks[j].kind == 'i' {
					out.grouping = append(out.grouping, toks[j].text)
				}
			}
			if j+1 >= len(toks) || toks[j+1].text != "(" {
				return out, fmt.Errorf("%s %s (…) not followed by (", t.text, next(1).text)
			}
			stack = append(stack, t.text)
			i = j + 1
		case t.kind == 'i' && keywords[strings.ToLower(t.text)]:
		case t.kind == 'i' && next(1).text == "(":
			stack = append(stack, t.text)
			i++
		case t.kind == 'i' || t.text == "{":
			s := selector{}
			if t.kind == 'i' {
				s.metric = t.text
			} else {
				i-- // the { is read below
			}
			if next(1).text == "{" {
				j := i + 2
				for j < len(toks) && toks[j].text != "}" {
					if j+2 >= len(toks) || toks[j].kind != 'i' || toks[j+2].kind != 's' {
						return out, fmt.Errorf("bad matcher near %q", toks[j].text)
					}
					v, err := unquote(toks[j+2].text)
					if err != nil {
						return out, err
					}
					s.matchers = append(s.matchers, matcher{label: toks[j].text, op: toks[j+1].text, value: v})
					j += 3
					if j < len(toks) && toks[j].text == "," {
						j++
					}
				}
				if j == len(toks) {
					return out, fmt.Errorf("unclosed { after %q", s.metric)
				}
				i = j
			}
			if next(1).text == "[" {
				j := i + 2
				var rng []string
				for ; j < len(toks) && toks[j].text != "]"; j++ {
					rng = append(rng, toks[j].text)
				}
				if j == len(toks) {
					return out, fmt.Errorf("unclosed [ after %q", s.metric)
				}
				s.rng = strings.Join(rng, "")
				i = j
			}
			s.call = top()
			out.selectors = append(out.selectors, s)
		case t.text == "(":
			stack = append(stack, "")
		case t.text == ")":
			if len(stack) == 0 {
				return out, fmt.Errorf("unbalanced )")
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		return out, fmt.Errorf("unbalanced (")
	}
	return out, nil
}

// unquote reads a PromQL string literal: Go's escapes in "…" and '…', none
// in `…`.
func unquote(s string) (string, error) {
	if len(s) >= 2 && s[0] == '\'' {
		s = `"` + strings.ReplaceAll(strings.ReplaceAll(s[1:len(s)-1], `\'`, `'`), `"`, `\"`) + `"`
	}
	return strconv.Unquote(s)
}
