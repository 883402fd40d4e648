package auth

import "strings"

// Topic matching as Mosquitto's mosquitto_topic_matches_sub does it, for an ACL filter already checked
// by validFilter and a topic from a PUBLISH. Filters and topics are walked level by level in place:
// nothing here allocates (string(b) == s comparisons do not copy).

// matchTopic reports whether topic matches filter. A topic holding a wildcard matches nothing (Mosquitto
// returns MOSQ_ERR_INVAL for it); topics and filters starting with '$' match only each other.
func matchTopic(filter string, topic []byte) bool {
	if len(filter) == 0 || len(topic) == 0 || (filter[0] == '$') != (topic[0] == '$') {
		return false
	}
	fi, ti := 0, 0
	for {
		fe := levelEnd(filter, fi)
		level := filter[fi:fe]
		if level == "#" {
			return ti > len(topic) || !hasWildcardBytes(topic[ti:])
		}
		if ti > len(topic) {
			return false // the topic ended first and this level is not '#'
		}
		te := levelEndBytes(topic, ti)
		if level == "+" {
			if hasWildcardBytes(topic[ti:te]) {
				return false
			}
		} else if level != string(topic[ti:te]) {
			return false
		}
		if fe == len(filter) {
			return te == len(topic)
		}
		fi, ti = fe+1, te+1
	}
}

// intersects reports whether some topic matches both filters a and b.
func intersects(a, b string) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	// A topic starting with '$' is matched only by a filter whose first level is that literal.
	if a[0] == '$' && (b[0] == '+' || b[0] == '#') || b[0] == '$' && (a[0] == '+' || a[0] == '#') {
		return false
	}
	ai, bi := 0, 0
	for {
		aEnd, bEnd := ai > len(a), bi > len(b)
		if aEnd && bEnd {
			return true
		}
		var al, bl string
		var ae, be int
		if !aEnd {
			ae = levelEnd(a, ai)
			al = a[ai:ae]
		}
		if !bEnd {
			be = levelEnd(b, bi)
			bl = b[bi:be]
		}
		switch {
		case al == "#" && !aEnd, bl == "#" && !bEnd:
			return true // '#' also matches the parent level, so the other side's end is fine too
		case aEnd || bEnd:
			return false
		case al != "+" && bl != "+" && al != bl:
			return false
		}
		ai, bi = ae+1, be+1
	}
}

// covers reports whether every topic matching filter f also matches filter d.
func covers(d, f string) bool {
	if len(d) == 0 || len(f) == 0 {
		return false
	}
	if (d[0] == '+' || d[0] == '#') && f[0] == '$' {
		return false // a leading wildcard in d misses the '$' topics f matches
	}
	di, fi := 0, 0
	for {
		dEnd, fEnd := di > len(d), fi > len(f)
		if dEnd && fEnd {
			return true
		}
		if dEnd {
			return false // f goes deeper than d reaches
		}
		de := levelEnd(d, di)
		dl := d[di:de]
		if dl == "#" {
			return true
		}
		if fEnd {
			return false // f matches a topic that ends here; d needs another level
		}
		fe := levelEnd(f, fi)
		fl := f[fi:fe]
		switch {
		case fl == "#":
			// f matches this level's parent (unless it is the first level) and every depth below; d
			// reaches all of it only as "+/#" at the first level.
			return dl == "+" && fi == 0 && d[de:] == "/#"
		case dl == "+":
		case fl == "+" || fl != dl:
			return false
		}
		di, fi = de+1, fe+1
	}
}

// meet returns the filter matching exactly the topics both a and b match, if some topic does.
func meet(a, b string) (string, bool) {
	if !intersects(a, b) {
		return "", false
	}
	var out strings.Builder
	ai, bi := 0, 0
	for {
		aEnd, bEnd := ai > len(a), bi > len(b)
		if aEnd || bEnd {
			return out.String(), true // the other side is at its end too, or at a '#' that takes the parent
		}
		ae, be := levelEnd(a, ai), levelEnd(b, bi)
		al, bl := a[ai:ae], b[bi:be]
		if out.Len() > 0 || ai > 0 {
			out.WriteByte('/')
		}
		switch {
		case al == "#":
			out.WriteString(b[bi:])
			return out.String(), true
		case bl == "#":
			out.WriteString(a[ai:])
			return out.String(), true
		case al == "+":
			out.WriteString(bl)
		default:
			out.WriteString(al)
		}
		ai, bi = ae+1, be+1
	}
}

func levelEnd(s string, from int) int {
	for i := from; i < len(s); i++ {
		if s[i] == '/' {
			return i
		}
	}
	return len(s)
}

func levelEndBytes(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] == '/' {
			return i
		}
	}
	return len(b)
}

func hasWildcardBytes(b []byte) bool {
	for _, c := range b {
		if c == '+' || c == '#' {
			return true
		}
	}
	return false
}

// validFilter applies mosquitto_sub_topic_check as the broker builds it: '+' and '#' fill a whole level,
// '#' is last, at most 65535 bytes and 200 '/' separators (TOPIC_HIERARCHY_LIMIT).
func validFilter(s string) bool {
	if len(s) == 0 || len(s) > 65535 {
		return false
	}
	slashes := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '+':
			if (i > 0 && s[i-1] != '/') || (i+1 < len(s) && s[i+1] != '/') {
				return false
			}
		case '#':
			if (i > 0 && s[i-1] != '/') || i+1 != len(s) {
				return false
			}
		case '/':
			slashes++
		}
	}
	return slashes <= 200
}
