package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseACLErrors(t *testing.T) {
	for _, c := range []struct {
		name, text string
		line       int
		msg        string
	}{
		{"indented comment", "topic read a\n  # note\n", 2, "invalid line"},
		{"tab before keyword", "\ttopic read a\n", 1, "invalid line"},
		{"tab between words", "topic\tread a\n", 1, "invalid line"},
		{"unknown keyword", "\n\nfrob a\n", 3, "invalid line"},
		{"empty topic", "topic\n", 1, "empty topic"},
		{"empty pattern", "pattern   \n", 1, "empty topic"},
		{"bad access word", "topic reed a/b\n", 1, "invalid access type \"reed\""},
		{"hash not last", "topic read a/#/b\n", 1, "invalid topic filter"},
		{"plus inside level", "pattern read a/+x\n", 1, "invalid topic filter"},
		{"user without name", "user\n", 1, "missing user name"},
		{"user with spaces only", "user   \r\n", 1, "missing user name"},
		{"too deep", "topic read " + strings.Repeat("a/", 201) + "a\n", 1, "invalid topic filter"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseACL("x.acl", []byte(c.text))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *FileError", err)
			}
			if fe.File != "x.acl" || fe.Line != c.line || !strings.Contains(fe.Msg, c.msg) {
				t.Fatalf("err = %v, want x.acl:%d: ...%s...", err, c.line, c.msg)
			}
		})
	}
}

func TestParseACLAccepts(t *testing.T) {
	for _, c := range []struct {
		name, text string
		anonymous  []rule
		users      map[string][]rule
		patterns   []rule
	}{
		{"empty", "", nil, map[string][]rule{}, nil},
		{"comments and blanks", "# c\n\n   \n#topic read x\n", nil, map[string][]rule{}, nil},
		{"no access word means readwrite", "topic a/b\n", []rule{{filter: "a/b", access: ReadWrite}}, map[string][]rule{}, nil},
		{"a lone access word is the topic", "topic read\n", []rule{{filter: "read", access: ReadWrite}}, map[string][]rule{}, nil},
		{"a lone filter is not trimmed", "topic \tx\n", []rule{{filter: "\tx", access: ReadWrite}}, map[string][]rule{}, nil},
		{"filter keeps inner spaces", "topic read  a b/c  \n", []rule{{filter: "a b/c", access: Read}}, map[string][]rule{}, nil},
		{"leading spaces and CRLF", "  topic deny x\r\n", []rule{{filter: "x", access: Deny}}, map[string][]rule{}, nil},
		{"user name is the rest of the line", "user  carol smith \ntopic write c\n", nil,
			map[string][]rule{"carol smith": {{filter: "c", access: Write}}}, nil},
		{"pattern after user is global", "user u\npattern read p/%c\n", nil, map[string][]rule{"u": nil},
			[]rule{{filter: "p/%c", access: Read}}},
		{"NUL ends the line", "topic read a\x00junk\n", []rule{{filter: "a", access: Read}}, map[string][]rule{}, nil},
		{"no final newline", "topic write a", []rule{{filter: "a", access: Write}}, map[string][]rule{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseACL("x.acl", []byte(c.text))
			if err != nil {
				t.Fatal(err)
			}
			if !rulesEqual(a.anonymous, c.anonymous) || !rulesEqual(a.patterns, c.patterns) || len(a.users) != len(c.users) {
				t.Fatalf("got anonymous %v patterns %v users %v", a.anonymous, a.patterns, a.users)
			}
			for u, rs := range c.users {
				got, ok := a.users[u]
				if !ok || !rulesEqual(got, rs) {
					t.Fatalf("user %q: got %v, want %v", u, got, rs)
				}
			}
		})
	}
}

func rulesEqual(a, b []rule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// client is one identity the decision tables ask about.
type client struct {
	user      string
	anonymous bool
	id        string
}

var (
	anon      = client{anonymous: true, id: "anon1"}
	alice     = client{user: "alice", id: "a1"}
	bob       = client{user: "bob", id: "b1"} // no section of his own: patterns only
	dashboard = client{user: "dashboard", id: "dash"}
	plusUser  = client{user: "eve+", id: "e1"}
	hashID    = client{user: "frank", id: "f#"}
	emptyUser = client{user: "", id: "x1"} // sent an empty user name: not anonymous
)

// TestRightsEveryKind asks the decisions of testdata/every-kind.acl; TestAgainstMosquitto asks Mosquitto
// a share of the same questions.
func TestRightsEveryKind(t *testing.T) {
	acl, err := LoadACLFile("testdata/every-kind.acl")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range everyKindCases {
		r := acl.For(c.who.user, c.who.anonymous, c.who.id)
		if got := r.CanPublish([]byte(c.topic)); got != c.write {
			t.Errorf("%+v CanPublish(%q) = %v, want %v", c.who, c.topic, got, c.write)
		}
		if got := r.CanRead([]byte(c.topic)); got != c.read {
			t.Errorf("%+v CanRead(%q) = %v, want %v", c.who, c.topic, got, c.read)
		}
	}
}

var everyKindCases = []struct {
	who         client
	topic       string
	read, write bool
}{
	{anon, "public/news", true, false},
	{anon, "public", true, false},         // "public/#" covers its parent
	{anon, "public/secret", false, false}, // deny wins whatever the order of lines
	{anon, "anon/in", false, true},
	{anon, "alice/x", false, false},              // alice's section is hers alone
	{anon, "devices/anon1/x", false, false},      // %u patterns skip clients without a user name
	{anon, "clients/anon1/out", false, true},     // %c patterns apply to them
	{anon, "clients/anon1/in", true, false},      //
	{anon, "clients/other/out", false, false},    //
	{alice, "public/news", false, false},         // anonymous lines do not apply to users
	{alice, "alice/x", true, true},               //
	{alice, "alice/private/x", false, false},     // her own deny
	{alice, "alice/private", false, false},       // "alice/private/#" covers its parent
	{alice, "shared/alice", false, true},         // second "user alice" section adds up
	{alice, "devices/alice/x", true, true},       // pattern %u
	{alice, "devices/alice/locked", true, false}, // her section's read wins over the deny pattern; write does not
	{alice, "$SYS/broker/uptime", true, false},   // '$SYS' needs a '$' filter; never publishable
	{alice, "$SYS/broker/version", true, false},  // retained in mosquitto: the reference reads it
	{bob, "$SYS/broker/version", false, false},
	{alice, "$SYS/broker/connection/a/state", true, false},
	{bob, "devices/bob/x", true, true},
	{bob, "devices/bob/locked", false, false}, // the deny pattern
	{bob, "devices/alice/x", false, false},
	{bob, "clients/b1/out", false, true},
	{bob, "clients/b1/in", true, false},
	{bob, "$SYS/broker/uptime", false, false},
	{dashboard, "devices/bob/x", true, false},
	{dashboard, "rooms with spaces/1", true, false},
	{dashboard, "devices/dashboard/x", true, true}, // the pattern adds write on its own subtree
	{plusUser, "devices/eve+/x", false, false},     // '+' in the user name: no pattern applies
	{plusUser, "clients/e1/out", false, false},
	{hashID, "clients/f#/out", false, false},
	{hashID, "devices/frank/x", false, false}, // '#' in the client id, too
	{emptyUser, "devices//x", true, true},     // an empty user name fills %u with nothing
	{emptyUser, "public/news", false, false},
}

func TestRightsRules(t *testing.T) {
	for _, c := range rulesCases {
		t.Run(c.name, func(t *testing.T) {
			acl, err := ParseACL("t.acl", []byte(c.acl))
			if err != nil {
				t.Fatal(err)
			}
			r := acl.For(c.who.user, c.who.anonymous, c.who.id)
			if got := r.CanRead([]byte(c.topic)); got != c.read {
				t.Errorf("CanRead(%q) = %v, want %v", c.topic, got, c.read)
			}
			if got := r.CanPublish([]byte(c.topic)); got != c.write {
				t.Errorf("CanPublish(%q) = %v, want %v", c.topic, got, c.write)
			}
		})
	}
}

func TestCanSubscribe(t *testing.T) {
	acl, err := LoadACLFile("testdata/every-kind.acl")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who    client
		filter string
		want   bool
	}{
		{anon, "#", true},                 // may deliver public/...; CanRead filters the rest
		{anon, "public/+", true},          //
		{anon, "public/secret", false},    // wholly denied
		{anon, "anon/in", false},          // write-only
		{anon, "alice/#", false},          // nothing readable there
		{anon, "$share/g/public/#", true}, // judged by its filter
		{anon, "$share/g/alice/#", false},
		{anon, "clients/+/in", true}, // may deliver clients/anon1/in
		{alice, "alice/private/#", false},
		{alice, "alice/+", true},
		{alice, "$SYS/#", true},
		{alice, "+/+/locked", true},
		{bob, "devices/bob/locked", false}, // the deny pattern covers it
		{bob, "devices/+/locked", false},   // no pattern reads another device's subtree
		{bob, "devices/#", true},
		{plusUser, "#", false},
		{dashboard, "rooms with spaces/#", true},
		{alice, "a/#/b", false}, // not a filter
	} {
		r := acl.For(c.who.user, c.who.anonymous, c.who.id)
		if got := r.CanSubscribe([]byte(c.filter)); got != c.want {
			t.Errorf("%+v CanSubscribe(%q) = %v, want %v", c.who, c.filter, got, c.want)
		}
	}
}

func TestNilRightsPermitEverything(t *testing.T) {
	var acl *ACL
	r := acl.For("u", false, "c")
	if !r.CanPublish([]byte("a")) || !r.CanRead([]byte("a")) || !r.CanSubscribe([]byte("#")) {
		t.Fatal("nil ACL must permit everything")
	}
}

// TestRightsCache runs the same questions through a client whose rule list is long enough to get a
// decision cache, asking each twice, interleaved, so that hits and replacements both answer.
func TestRightsCache(t *testing.T) {
	var b strings.Builder
	for i := 0; i < cacheMin; i++ {
		b.WriteString("topic read filler/" + strings.Repeat("x", i+1) + "\n")
	}
	b.WriteString("topic readwrite a/#\ntopic deny a/no\ntopic write w\n")
	acl, err := ParseACL("long.acl", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	r := acl.For("", true, "c")
	if r.cache == nil {
		t.Fatal("long list without a cache")
	}
	type q struct {
		topic       string
		read, write bool
	}
	qs := []q{{"a/1", true, true}, {"a/no", false, false}, {"w", false, true}, {"filler/x", true, false},
		{"b", false, false}, {"a/2", true, true}}
	for round := 0; round < 3; round++ {
		for _, x := range qs {
			if r.CanRead([]byte(x.topic)) != x.read || r.CanPublish([]byte(x.topic)) != x.write {
				t.Fatalf("round %d: %q: want read %v write %v", round, x.topic, x.read, x.write)
			}
		}
	}
}

// TestACLWriteToRoundTrip re-reads the canonical form of every-kind.acl and asks the same questions.
func TestACLWriteToRoundTrip(t *testing.T) {
	acl, err := LoadACLFile("testdata/every-kind.acl")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "round.acl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acl.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	again, err := LoadACLFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range everyKindCases {
		r := again.For(c.who.user, c.who.anonymous, c.who.id)
		if r.CanRead([]byte(c.topic)) != c.read || r.CanPublish([]byte(c.topic)) != c.write {
			t.Errorf("after WriteTo: %+v %q differs", c.who, c.topic)
		}
	}
}

// rulesCases are small ACL files and one question each; TestRefRules asks mosquitto the same.
var rulesCases = []struct {
	name, acl string
	who       client
	topic     string
	read      bool
	write     bool
}{
	{"empty file denies everything", "", anon, "a", false, false},
	{"comments only deny everything", "# nothing\n", alice, "a", false, false},
	{"no rule for this user", "user alice\ntopic a\n", bob, "a", false, false},
	{"deny after grant still denies", "topic readwrite a/#\ntopic deny a/b\n", anon, "a/b", false, false},
	{"grant beside a non-matching deny", "topic readwrite a/#\ntopic deny a/b\n", anon, "a/c", true, true},
	{"read and write lines add up", "topic read a\ntopic write a\n", anon, "a", true, true},
	{"write-only line does not grant read", "topic write a\ntopic deny b\n", anon, "a", false, true},
	{"pattern deny beats pattern grant", "pattern readwrite x/%c/#\npattern deny x/%c/no\n", anon, "x/anon1/no", false, false},
	{"%%c keeps a percent", "pattern read p/%%c\n", anon, "p/%anon1", true, false},
	{"%c and %u together", "pattern readwrite %u/%c\n", alice, "alice/a1", true, true},
	{"unknown %x is literal", "pattern read p/%x/%c\n", anon, "p/%x/anon1", true, false},
	{"$SYS publish to connection state passes to the ACL", "topic readwrite $SYS/#\n", anon,
		"$SYS/broker/connection/b/state", true, true},
	{"$share topics are never published or read", "topic readwrite #\ntopic readwrite $share/#\n", anon,
		"$share/g/a", false, false},
	{"'#' does not reach '$' topics", "topic readwrite #\n", anon, "$foo/x", false, false},
	{"'$' filter reaches '$' topics", "topic readwrite $foo/#\n", anon, "$foo/x", true, true},
	{"wildcard in topic matches nothing", "topic readwrite #\n", anon, "a/+", false, false},
}
