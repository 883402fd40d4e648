// Package topic validates MQTT topic names and filters, routes publishes to subscriptions, and stores retained
// messages.
//
// The rules are those of MQTT 3.1.1 §4.7 and MQTT 5.0 §4.7 and §4.8.2: levels are separated by '/', empty levels
// are valid, '+' matches exactly one level (which may be empty), '#' matches the parent level and any number of
// child levels and must be last, and a filter that begins with a wildcard never matches a topic name that begins
// with '$' [MQTT-4.7.2-1].
package topic

import (
	"bytes"
	"unicode/utf8"
)

// MaxLength is the longest topic name or filter MQTT can carry: a UTF-8 string has a two-byte length prefix.
const MaxLength = 65535

// shareLevel is the first level of every shared subscription filter [MQTT-4.8.2-1].
const shareLevel = "$share"

// ValidateName reports whether name is a valid topic name for PUBLISH or a Will: at least one byte [MQTT-4.7.3-1],
// at most 65535 bytes, well-formed UTF-8 without U+0000 [MQTT-1.5.4-1, -2], and no wildcard characters
// [MQTT-3.3.2-2]. A nil result means the name is valid; a non-nil result is one of the package's *Error values.
func ValidateName(name []byte) error {
	if len(name) == 0 {
		return ErrNameEmpty
	}
	if len(name) > MaxLength {
		return ErrNameTooLong
	}
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			switch c {
			case 0:
				return ErrNameNull
			case '+', '#':
				return ErrNameWildcard
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(name[i:])
		if r == utf8.RuneError && size == 1 {
			return ErrNameUTF8
		}
		i += size
	}
	return nil
}

// ValidateFilter reports whether filter is a valid topic filter for SUBSCRIBE or UNSUBSCRIBE: at least one byte
// [MQTT-4.7.3-1], at most 65535 bytes, well-formed UTF-8 without U+0000 [MQTT-1.5.4-1, -2], '#' only as the whole
// last level [MQTT-4.7.1-1] and '+' only as a whole level [MQTT-4.7.1-2]. A filter whose first level is "$share"
// must also follow the shared subscription rules checked by ParseShared [MQTT-4.8.2-1, -2].
func ValidateFilter(filter []byte) error {
	_, _, _, err := ParseShared(filter)
	return err
}

// ParseShared splits a shared subscription filter "$share/{ShareName}/{filter}" into its ShareName (group) and
// the filter it applies to (inner), and validates both. For a filter whose first level is not "$share" it returns
// shared == false, inner == filter, and the result of validating filter as an ordinary topic filter. The returned
// slices alias filter.
func ParseShared(filter []byte) (group, inner []byte, shared bool, err error) {
	if !isShared(filter) {
		return nil, filter, false, validatePlain(filter)
	}
	if len(filter) > MaxLength {
		return nil, nil, true, ErrFilterTooLong
	}
	rest := filter[len(shareLevel):] // "" or "/..."
	if len(rest) <= 1 {
		return nil, nil, true, ErrShareNameEmpty
	}
	rest = rest[1:]
	slash := bytes.IndexByte(rest, '/')
	if slash == 0 {
		return nil, nil, true, ErrShareNameEmpty
	}
	name := rest
	if slash > 0 {
		name = rest[:slash]
	}
	if bytes.IndexByte(name, '+') >= 0 || bytes.IndexByte(name, '#') >= 0 {
		return nil, nil, true, ErrShareNameWildcard
	}
	if err := validateUTF8(name, ErrFilterUTF8, ErrFilterNull); err != nil {
		return nil, nil, true, err
	}
	if slash < 0 || slash == len(rest)-1 {
		return nil, nil, true, ErrShareNoFilter
	}
	inner = rest[slash+1:]
	if err := validatePlain(inner); err != nil {
		return nil, nil, true, err
	}
	return name, inner, true, nil
}

// isShared reports whether the first level of filter is "$share".
func isShared(filter []byte) bool {
	if !bytes.HasPrefix(filter, []byte(shareLevel)) {
		return false
	}
	return len(filter) == len(shareLevel) || filter[len(shareLevel)] == '/'
}

// validatePlain validates filter as an ordinary (not shared) topic filter.
func validatePlain(filter []byte) error {
	if len(filter) == 0 {
		return ErrFilterEmpty
	}
	if len(filter) > MaxLength {
		return ErrFilterTooLong
	}
	for i := 0; i < len(filter); {
		c := filter[i]
		if c < utf8.RuneSelf {
			switch c {
			case 0:
				return ErrFilterNull
			case '#':
				if i != len(filter)-1 || (i > 0 && filter[i-1] != '/') {
					return ErrFilterMultiWild
				}
			case '+':
				if (i > 0 && filter[i-1] != '/') || (i < len(filter)-1 && filter[i+1] != '/') {
					return ErrFilterSingleWild
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(filter[i:])
		if r == utf8.RuneError && size == 1 {
			return ErrFilterUTF8
		}
		i += size
	}
	return nil
}

// validateUTF8 checks that s is well-formed UTF-8 without U+0000, returning badUTF8 or null otherwise.
func validateUTF8(s []byte, badUTF8, null *Error) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return null
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return badUTF8
		}
		i += size
	}
	return nil
}

// Matches reports whether the topic name matches the (non-shared) topic filter under the MQTT rules. Both are
// assumed valid; for a shared filter pass the inner filter from ParseShared. It does not allocate.
func Matches(filter, name []byte) bool {
	if len(name) > 0 && name[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false // [MQTT-4.7.2-1]
	}
	for {
		f, fRest, fMore := cutLevel(filter)
		if len(f) == 1 && f[0] == '#' {
			return true // '#' matches the parent level and everything below it
		}
		n, nRest, nMore := cutLevel(name)
		if !(len(f) == 1 && f[0] == '+') && !bytes.Equal(f, n) {
			return false
		}
		if !fMore || !nMore {
			if fMore == nMore {
				return true
			}
			// The name ended first: "sport/#" matches "sport" (§4.7.1.2).
			return !nMore && bytes.Equal(fRest, []byte("#"))
		}
		filter, name = fRest, nRest
	}
}

// cutLevel returns the first level of s, what follows the separating '/', and whether a separator was found.
func cutLevel(s []byte) (level, rest []byte, more bool) {
	if i := bytes.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, nil, false
}
