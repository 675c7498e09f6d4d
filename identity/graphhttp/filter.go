package graphhttp

import (
	"strings"

	"github.com/tresorkms/tresor"
)

// The $filter subset: comparisons of string properties with eq,
// startswith(property,'value'), any() over a string collection, and and,
// or and parentheses over them:
//
//	appId eq '…' and displayName eq 'it''s'
//	startswith(displayName,'ci-') or id eq '…'
//	servicePrincipalNames/any(c:c eq '…')
//
// This is what az and the Graph SDKs send to find applications and service
// principals. Names and keywords compare ignoring case; so do values, as
// Graph's directory compares them.

// item is what a filter sees of an object: its string properties and its
// string collections, by lower-case name.
type item struct {
	props map[string]string
	lists map[string][]string
}

// predicate reports whether an item matches a filter.
type predicate func(item) bool

// Limits on a filter, so that a request cannot make the parser work hard.
const (
	maxFilter      = 2048
	maxFilterDepth = 32
)

// parseFilter parses a $filter over items whose string properties are
// props (lower-case names). An empty filter matches
// everything. A malformed filter is Invalid (BadRequest); one naming
// something outside the subset is Invalid (Request_UnsupportedQuery).
func parseFilter(s string, props map[string]bool) (predicate, error) {
	if strings.TrimSpace(s) == "" {
		return func(item) bool { return true }, nil
	}
	if len(s) > maxFilter {
		return nil, filterError("the filter is longer than %d characters", maxFilter)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, props: props}
	pred, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != eof {
		return nil, filterError("unexpected '%s'", clip(t.text))
	}
	return pred, nil
}

// token kinds: punctuation is its own character.
const (
	eof   = 0
	ident = 'i'
	str   = 's'
)

type token struct {
	kind byte
	text string // an identifier, or a string's value without quotes
}

// lex splits a filter into identifiers, single-quoted strings (in which a
// quote is written twice) and the punctuation ( ) , : /.
func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.IndexByte("(),:/", c) >= 0:
			toks = append(toks, token{kind: c, text: string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, filterError("a string is not closed")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, token{kind: str, text: b.String()})
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			toks = append(toks, token{kind: ident, text: s[i:j]})
			i = j
		default:
			return nil, filterError("unexpected character '%c'", c)
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

type parser struct {
	toks  []token
	pos   int
	props map[string]bool
	depth int
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{kind: eof}
}

func (p *parser) next() token {
	t := p.peek()
	if t.kind != eof {
		p.pos++
	}
	return t
}

// keyword reports whether the next token is the keyword kw, and consumes
// it if so.
func (p *parser) keyword(kw string) bool {
	if t := p.peek(); t.kind == ident && strings.EqualFold(t.text, kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(kind byte) (token, error) {
	t := p.next()
	if t.kind != kind {
		want := map[byte]string{ident: "a name", str: "a quoted string"}[kind]
		if want == "" {
			want = "'" + string(kind) + "'"
		}
		if t.kind == eof {
			return t, filterError("expected %s at the end", want)
		}
		return t, filterError("expected %s, found '%s'", want, clip(t.text))
	}
	return t, nil
}

// or := and {"or" and}
func (p *parser) or() (predicate, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(it item) bool { return l(it) || right(it) }
	}
	return left, nil
}

// and := primary {"and" primary}
func (p *parser) and() (predicate, error) {
	left, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		right, err := p.primary()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(it item) bool { return l(it) && right(it) }
	}
	return left, nil
}

// primary := "(" or ")" | "startswith" "(" name "," string ")"
//
//	| name "eq" string | list "/" "any" "(" var ":" var "eq" string ")"
func (p *parser) primary() (predicate, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, filterError("the filter nests deeper than %d", maxFilterDepth)
	}
	if p.peek().kind == '(' {
		p.next()
		pred, err := p.or()
		if err != nil {
			return nil, err
		}
		_, err = p.expect(')')
		return pred, err
	}
	name, err := p.expect(ident)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.EqualFold(name.text, "startswith") && p.peek().kind == '(':
		p.next()
		prop, err := p.property()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(','); err != nil {
			return nil, err
		}
		v, err := p.expect(str)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(')'); err != nil {
			return nil, err
		}
		prefix := strings.ToLower(v.text)
		return func(it item) bool { return strings.HasPrefix(strings.ToLower(it.props[prop]), prefix) }, nil
	case p.peek().kind == '/':
		p.next()
		return p.any(strings.ToLower(name.text))
	}
	prop := strings.ToLower(name.text)
	if !p.props[prop] {
		return nil, unsupported(name.text)
	}
	if !p.keyword("eq") {
		return nil, tresor.Errorf(tresor.Invalid, "Unsupported query: only eq, startswith and any(… eq …) are supported in $filter.").WithReason(codeUnsupportedQuery)
	}
	v, err := p.expect(str)
	if err != nil {
		return nil, err
	}
	return func(it item) bool { return strings.EqualFold(it.props[prop], v.text) }, nil
}

// property reads a property name.
func (p *parser) property() (string, error) {
	t, err := p.expect(ident)
	if err != nil {
		return "", err
	}
	prop := strings.ToLower(t.text)
	if !p.props[prop] {
		return "", unsupported(t.text)
	}
	return prop, nil
}

// any reads "any(v:v eq 'x')" after "list/", and matches items whose
// collection list holds x. An unknown collection matches nothing, as it
// is empty on every tresor object.
func (p *parser) any(list string) (predicate, error) {
	if !p.keyword("any") {
		return nil, tresor.Errorf(tresor.Invalid, "Unsupported query: only any() is supported on a collection.").WithReason(codeUnsupportedQuery)
	}
	if _, err := p.expect('('); err != nil {
		return nil, err
	}
	v1, err := p.expect(ident)
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(':'); err != nil {
		return nil, err
	}
	v2, err := p.expect(ident)
	if err != nil {
		return nil, err
	}
	if v1.text != v2.text {
		return nil, filterError("the lambda variable '%s' is not defined", clip(v2.text))
	}
	if !p.keyword("eq") {
		return nil, tresor.Errorf(tresor.Invalid, "Unsupported query: only eq is supported inside any().").WithReason(codeUnsupportedQuery)
	}
	v, err := p.expect(str)
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(')'); err != nil {
		return nil, err
	}
	return func(it item) bool {
		for _, s := range it.lists[list] {
			if strings.EqualFold(s, v.text) {
				return true
			}
		}
		return false
	}, nil
}

func filterError(format string, args ...any) error {
	return tresor.Errorf(tresor.Invalid, "Invalid filter clause: "+format+".", args...).WithReason(codeBadRequest)
}

func unsupported(prop string) error {
	return tresor.Errorf(tresor.Invalid,
		"Unsupported or invalid query filter clause specified for property '%s'. tresor filters on id, appId and displayName (and servicePrincipalType).", clip(prop)).
		WithReason(codeUnsupportedQuery)
}
