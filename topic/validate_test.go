package topic

import (
	"bytes"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"simple", "sport/tennis/player1", nil},
		{"single level", "finance", nil},
		{"leading slash", "/finance", nil},
		{"empty levels", "//", nil},
		{"one slash", "/", nil},
		{"dollar topic", "$SYS/broker/uptime", nil},
		{"space", "sport tennis", nil},
		{"multibyte", "haus/küche/温度", nil},
		{"four byte rune", "emoji/😀", nil},
		{"max length", strings.Repeat("a", MaxLength), nil},
		{"empty [MQTT-4.7.3-1]", "", ErrNameEmpty},
		{"too long", strings.Repeat("a", MaxLength+1), ErrNameTooLong},
		{"plus [MQTT-3.3.2-2]", "sport/+", ErrNameWildcard},
		{"hash", "sport/#", ErrNameWildcard},
		{"plus inside level", "a+b", ErrNameWildcard},
		{"null [MQTT-1.5.4-2]", "a\x00b", ErrNameNull},
		{"bad utf8", "a\xffb", ErrNameUTF8},
		{"truncated utf8", "a\xc3", ErrNameUTF8},
		{"overlong encoding", "\xc0\xaf", ErrNameUTF8},
		{"surrogate U+D800 [MQTT-1.5.4-1]", "\xed\xa0\x80", ErrNameUTF8},
		{"beyond U+10FFFF", "\xf4\x90\x80\x80", ErrNameUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidateName([]byte(tt.in)); got != tt.want {
				t.Fatalf("ValidateName(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidateFilter(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		// §4.7.1.2: '#' is valid alone, last, and after a separator.
		{"hash alone", "#", nil},
		{"hash last", "sport/tennis/player1/#", nil},
		{"hash after empty level", "/#", nil},
		{"hash not alone in level", "sport/tennis#", ErrFilterMultiWild},
		{"hash not last", "sport/tennis/#/ranking", ErrFilterMultiWild},
		{"hash then slash", "#/", ErrFilterMultiWild},
		// §4.7.1.3: '+' occupies a whole level, anywhere.
		{"plus alone", "+", nil},
		{"plus first", "+/tennis/#", nil},
		{"plus middle", "sport/+/player1", nil},
		{"plus last", "sport/+", nil},
		{"plus twice", "+/+", nil},
		{"plus with empty level", "/+", nil},
		{"plus glued", "sport+", ErrFilterSingleWild},
		{"plus glued after", "+sport", ErrFilterSingleWild},
		{"plus inside", "a/b+c/d", ErrFilterSingleWild},
		{"plus then hash", "+/#", nil},
		{"plain", "sport/tennis", nil},
		{"empty levels", "//", nil},
		{"dollar", "$SYS/#", nil},
		{"empty", "", ErrFilterEmpty},
		{"too long", strings.Repeat("a", MaxLength+1), ErrFilterTooLong},
		{"null", "a/\x00", ErrFilterNull},
		{"bad utf8", "a/\xfe", ErrFilterUTF8},
		{"surrogate", "a/\xed\xbf\xbf", ErrFilterUTF8},
		// §4.8.2: shared subscriptions.
		{"shared", "$share/group/sport/#", nil},
		{"shared plus", "$share/g/+", nil},
		{"shared empty level filter", "$share/g//", nil},
		{"shared alone [MQTT-4.8.2-1]", "$share", ErrShareNameEmpty},
		{"shared slash", "$share/", ErrShareNameEmpty},
		{"shared empty name", "$share//a", ErrShareNameEmpty},
		{"shared no filter [MQTT-4.8.2-2]", "$share/group", ErrShareNoFilter},
		{"shared empty filter", "$share/group/", ErrShareNoFilter},
		{"shared name plus", "$share/gr+oup/a", ErrShareNameWildcard},
		{"shared name hash", "$share/#/a", ErrShareNameWildcard},
		{"shared name null", "$share/g\x00/a", ErrFilterNull},
		{"shared bad inner", "$share/g/a#", ErrFilterMultiWild},
		{"not shared prefix", "$shared/g/a", nil},
		{"share not first", "a/$share/g", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidateFilter([]byte(tt.in)); got != tt.want {
				t.Fatalf("ValidateFilter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseShared(t *testing.T) {
	tests := []struct {
		in     string
		group  string
		inner  string
		shared bool
	}{
		{"$share/consumer1/sport/tennis/+", "consumer1", "sport/tennis/+", true},
		{"$share/consumer2/sport/tennis/+", "consumer2", "sport/tennis/+", true},
		{"$share/g//finance", "g", "/finance", true},
		{"$share/g/#", "g", "#", true},
		{"$share/g/$SYS/x", "g", "$SYS/x", true},
		{"sport/tennis/+", "", "sport/tennis/+", false},
		{"$sharegroup/a", "", "$sharegroup/a", false},
	}
	for _, tt := range tests {
		g, inner, shared, err := ParseShared([]byte(tt.in))
		if err != nil || string(g) != tt.group || string(inner) != tt.inner || shared != tt.shared {
			t.Errorf("ParseShared(%q) = %q, %q, %v, %v; want %q, %q, %v, nil", tt.in, g, inner, shared, err,
				tt.group, tt.inner, tt.shared)
		}
	}
}

func TestErrorsCarryReasonCodes(t *testing.T) {
	for _, e := range []*Error{ErrNameEmpty, ErrNameTooLong, ErrNameWildcard, ErrNameUTF8, ErrNameNull} {
		if e.Code != 0x90 || !strings.Contains(e.Error(), "[") {
			t.Errorf("%v: code %#x, want 0x90 and a rule", e, e.Code)
		}
	}
	for _, e := range []*Error{ErrFilterEmpty, ErrFilterTooLong, ErrFilterUTF8, ErrFilterNull, ErrFilterMultiWild,
		ErrFilterSingleWild, ErrShareNameEmpty, ErrShareNameWildcard, ErrShareNoFilter} {
		if e.Code != 0x8F || !strings.Contains(e.Error(), "[") {
			t.Errorf("%v: code %#x, want 0x8F and a rule", e, e.Code)
		}
	}
}

// matchCases are the examples of MQTT 5.0 §4.7.1.2, §4.7.1.3 and §4.7.2 and the edge cases around them.
var matchCases = []struct {
	filter, topic string
	want          bool
}{
	// §4.7.1.2 multi-level wildcard.
	{"sport/tennis/player1/#", "sport/tennis/player1", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"sport/#", "sport", true},
	{"#", "sport/tennis", true},
	{"#", "/", true},
	{"#", "a", true},
	// §4.7.1.3 single-level wildcard.
	{"sport/tennis/+", "sport/tennis/player1", true},
	{"sport/tennis/+", "sport/tennis/player2", true},
	{"sport/tennis/+", "sport/tennis/player1/ranking", false},
	{"sport/+", "sport", false},
	{"sport/+", "sport/", true},
	{"+", "a", true},
	{"+/+", "/finance", true},
	{"/+", "/finance", true},
	{"+", "/finance", false},
	{"+/tennis/#", "sport/tennis/x", true},
	{"+/tennis/#", "sport/tennis", true},
	{"+/tennis/#", "sport/golf", false},
	{"sport/+/player1", "sport/tennis/player1", true},
	{"sport/+/player1", "sport//player1", true},
	{"+/+/+", "a//", true},
	{"+", "", true},
	// §4.7.2 topics beginning with '$'.
	{"#", "$SYS/x", false},
	{"+/x", "$SYS/x", false},
	{"+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"$SYS/#", "$SYS/monitor/Clients", true},
	{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
	{"$SYS/#", "$SYS", true},
	{"+", "$", false},
	{"a/#", "a/$b", true},
	{"a/+", "a/$b", true},
	// Plain filters are case-sensitive and level-exact.
	{"ACCOUNTS", "Accounts", false},
	{"a/b", "a/b", true},
	{"a/b", "a/b/", false},
	{"a/b/", "a/b", false},
	{"a/b", "a", false},
	{"a", "a/b", false},
	{"/", "/", true},
	{"//", "/", false},
	{"a/#", "ab", false},
	{"a/+/#", "a", false},
	{"a/+/#", "a/b", true},
}

func TestMatches(t *testing.T) {
	for _, tt := range matchCases {
		if got := Matches([]byte(tt.filter), []byte(tt.topic)); got != tt.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
		if got := refMatch(tt.filter, tt.topic); got != tt.want {
			t.Errorf("refMatch(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
	}
}

// refMatch is the naive reference matcher the tests check the index against: split both on '/' and compare.
func refMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	f := strings.Split(filter, "/")
	n := strings.Split(topic, "/")
	for i, lv := range f {
		if lv == "#" {
			return true
		}
		if i >= len(n) {
			return false
		}
		if lv != "+" && lv != n[i] {
			return false
		}
	}
	return len(f) == len(n)
}

func TestValidationDoesNotAllocate(t *testing.T) {
	name := []byte("sport/tennis/player1/ränking")
	filter := []byte("$share/g/sport/+/player1/#")
	bad := []byte("sport/tennis#")
	allocs := testing.AllocsPerRun(100, func() {
		_ = ValidateName(name)
		_ = ValidateFilter(filter)
		_ = ValidateFilter(bad)
		_ = Matches(filter[9:], name)
	})
	if allocs != 0 {
		t.Fatalf("allocs = %v, want 0", allocs)
	}
	if !bytes.Equal(filter[9:], []byte("sport/+/player1/#")) {
		t.Fatal("test setup")
	}
}
