package auth

import (
	"bytes"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Access is what an ACL line grants: Read (receive messages, including retained ones), Write (publish),
// both, or nothing (a "deny" line, which overrides grants; see Rights).
type Access uint8

// The access kinds, with Mosquitto's values (MOSQ_ACL_NONE, MOSQ_ACL_READ, MOSQ_ACL_WRITE).
const (
	Deny      Access = 0
	Read      Access = 1
	Write     Access = 2
	ReadWrite Access = Read | Write
)

// String is the word the ACL file uses.
func (a Access) String() string {
	switch a {
	case Deny:
		return "deny"
	case Read:
		return "read"
	case Write:
		return "write"
	case ReadWrite:
		return "readwrite"
	}
	return "access(" + strconv.Itoa(int(a)) + ")"
}

// ACL is a Mosquitto ACL file in memory. It is immutable once parsed and safe for concurrent use; For
// compiles the part that concerns one client.
type ACL struct {
	anonymous []rule            // "topic" lines before the first "user" line: clients without a user name
	users     map[string][]rule // "topic" lines under "user NAME" (repeated sections add up)
	patterns  []rule            // "pattern" lines, wherever they stand: every client
}

// rule is one "topic" or "pattern" line.
type rule struct {
	filter  string
	access  Access
	literal int // in Rights: length of the filter's prefix before any wildcard, for a quick reject
}

// matches is matchTopic after a quick reject: a matching topic starts with the filter's literal
// prefix (or, for "a/#" matching "a", is a prefix of it).
func (x *rule) matches(topic []byte) bool {
	k := min(x.literal, len(topic))
	return string(topic[:k]) == x.filter[:k] && matchTopic(x.filter, topic)
}

func literalPrefix(filter string) int {
	if i := strings.IndexAny(filter, "+#"); i >= 0 {
		return i
	}
	return len(filter)
}

// LoadACLFile reads a Mosquitto ACL file.
func LoadACLFile(path string) (*ACL, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseACL(path, data)
}

// ParseACL reads an ACL file's contents; name appears in errors. It accepts exactly what Mosquitto 2.0's
// aclfile__parse accepts, and refuses what makes Mosquitto refuse to start, naming the line:
//
//   - A line whose first byte is '#' is a comment; trailing white space is ignored; a line that is
//     empty after that is skipped. Words are separated by spaces only: a line starting with a tab, or
//     an indented '#', is an invalid line, as it is for Mosquitto.
//   - "topic [read|write|readwrite|deny] FILTER" grants or denies FILTER (the rest of the line, trimmed,
//     so it may contain spaces) to the clients of the current section. Without an access word the line
//     grants readwrite; "topic read" alone therefore grants readwrite on the topic "read".
//   - "user NAME" starts the section of that user name (the rest of the line, trimmed). "topic" lines
//     before the first "user" line apply to clients that sent no user name, and only to them.
//   - "pattern [access] FILTER" applies to every client, wherever it stands, with %c replaced by the
//     client identifier and %u by the user name (a pattern with %u never applies to a client without
//     one).
func ParseACL(name string, data []byte) (*ACL, error) {
	a := &ACL{users: make(map[string][]rule)}
	user, inUser := "", false
	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if z := bytes.IndexByte(line, 0); z >= 0 {
			line = line[:z] // Mosquitto reads the line as a C string
		}
		s := strings.TrimRight(string(line), cSpace)
		if s == "" || s[0] == '#' {
			continue
		}
		word, rest := nextWord(s)
		switch word {
		case "":
			continue
		case "topic", "pattern":
			r, msg := parseRule(rest)
			if msg != "" {
				return nil, &FileError{name, n, msg}
			}
			switch {
			case word == "pattern":
				a.patterns = append(a.patterns, r)
			case inUser:
				a.users[user] = append(a.users[user], r)
			default:
				a.anonymous = append(a.anonymous, r)
			}
		case "user":
			if rest == "" {
				return nil, &FileError{name, n, "missing user name after \"user\""}
			}
			user, inUser = strings.Trim(rest, cSpace), true
			if _, ok := a.users[user]; !ok {
				a.users[user] = nil
			}
		default:
			return nil, &FileError{name, n, "invalid line: want \"topic\", \"pattern\", \"user\" or a '#' comment, got " +
				strconv.Quote(word)}
		}
	}
	return a, nil
}

// cSpace is C's isspace in the "C" locale, which Mosquitto's trimming uses.
const cSpace = " \t\n\v\f\r"

// nextWord splits s as strtok_r(s, " ") then strtok_r(NULL, "") do: leading spaces skipped, the word up
// to the next space, and the rest after that one space (empty if none).
func nextWord(s string) (word, rest string) {
	s = strings.TrimLeft(s, " ")
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// parseRule reads what follows "topic" or "pattern".
func parseRule(s string) (rule, string) {
	access, rest := nextWord(s)
	if access == "" {
		return rule{}, "empty topic"
	}
	var r rule
	if rest == "" {
		r = rule{filter: access, access: ReadWrite}
	} else {
		r.filter = strings.Trim(rest, cSpace)
		switch access {
		case "read":
			r.access = Read
		case "write":
			r.access = Write
		case "readwrite":
			r.access = ReadWrite
		case "deny":
			r.access = Deny
		default:
			return rule{}, "invalid access type " + strconv.Quote(access) + ": want read, write, readwrite or deny"
		}
	}
	if !validFilter(r.filter) {
		return rule{}, "invalid topic filter " + strconv.Quote(r.filter)
	}
	return r, ""
}

// WriteTo writes the ACL in a canonical form that ParseACL reads back to the same decisions: the
// anonymous section, then the patterns, then each user's section in name order, every line with an
// explicit access word. Comments and the original order are not kept.
func (a *ACL) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	writeRules := func(kind string, rules []rule) {
		for _, r := range rules {
			if strings.Trim(r.filter, cSpace) != r.filter {
				// Only the form without an access word keeps white space at the ends (such as a tab)
				// untrimmed; ParseACL gives that form readwrite and a filter without spaces.
				b.WriteString(kind + " " + r.filter + "\n")
				continue
			}
			b.WriteString(kind + " " + r.access.String() + " " + r.filter + "\n")
		}
	}
	writeRules("topic", a.anonymous)
	writeRules("pattern", a.patterns)
	names := make([]string, 0, len(a.users))
	for u := range a.users {
		names = append(names, u)
	}
	sort.Strings(names)
	for _, u := range names {
		b.WriteString("user " + u + "\n")
		writeRules("topic", a.users[u])
	}
	return b.WriteTo(w)
}
