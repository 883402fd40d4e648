package auth

import "testing"

// mosquittoMatches is a line-by-line transcription of Mosquitto 2.0.20's mosquitto_topic_matches_sub2
// (lib/util_topic.c), kept only as an oracle for matchTopic; MOSQ_ERR_INVAL counts as no match.
func mosquittoMatches(sub, topic string) bool {
	sublen, topiclen := len(sub), len(topic)
	if sublen == 0 || topiclen == 0 {
		return false
	}
	if (sub[0] == '$' && topic[0] != '$') || (topic[0] == '$' && sub[0] != '$') {
		return false
	}
	spos, tpos := 0, 0
	for spos < sublen {
		if tpos < topiclen && (topic[tpos] == '+' || topic[tpos] == '#') {
			return false
		}
		if tpos == topiclen || sub[spos] != topic[tpos] {
			if sub[spos] == '+' {
				if spos > 0 && sub[spos-1] != '/' {
					return false
				}
				if spos+1 < sublen && sub[spos+1] != '/' {
					return false
				}
				spos++
				for tpos < topiclen && topic[tpos] != '/' {
					if topic[tpos] == '+' || topic[tpos] == '#' {
						return false
					}
					tpos++
				}
				if tpos == topiclen && spos == sublen {
					return true
				}
			} else if sub[spos] == '#' {
				if spos > 0 && sub[spos-1] != '/' {
					return false
				}
				if spos+1 < sublen {
					return false
				}
				for tpos < topiclen {
					if topic[tpos] == '+' || topic[tpos] == '#' {
						return false
					}
					tpos++
				}
				return true
			} else {
				if tpos == topiclen && spos > 0 && sub[spos-1] == '+' && sub[spos] == '/' &&
					spos+1 < sublen && sub[spos+1] == '#' {
					return true
				}
				return false
			}
		} else {
			if tpos+1 == topiclen {
				if spos+3 == sublen && sub[spos+1] == '/' && sub[spos+2] == '#' {
					return true
				}
			}
			spos++
			tpos++
			if spos == sublen && tpos == topiclen {
				return true
			} else if tpos == topiclen && sub[spos] == '+' && spos+1 == sublen {
				if spos > 0 && sub[spos-1] != '/' {
					return false
				}
				return true
			}
		}
	}
	if tpos < topiclen || spos < sublen {
		return false
	}
	for tpos < topiclen {
		if topic[tpos] == '+' || topic[tpos] == '#' {
			return false
		}
		tpos++
	}
	return true
}

// TestMatchTopicAgainstMosquitto compares matchTopic with the transcription of Mosquitto's matcher
// over every valid filter and every topic of up to four levels from a small alphabet, including
// empty levels, '$' levels and topics that (wrongly) hold wildcards.
func TestMatchTopicAgainstMosquitto(t *testing.T) {
	var all []string
	var gen func(s string, depth int)
	gen = func(s string, depth int) {
		if depth > 0 {
			all = append(all, s)
		}
		if depth == 4 {
			return
		}
		for _, l := range []string{"a", "ab", "$S", "", "+", "#"} {
			if depth == 0 {
				gen(l, 1)
			} else {
				gen(s+"/"+l, depth+1)
			}
		}
	}
	gen("", 0)
	n := 0
	for _, f := range all {
		if !validFilter(f) {
			continue
		}
		for _, tp := range all {
			n++
			if got, want := matchTopic(f, []byte(tp)), mosquittoMatches(f, tp); got != want {
				t.Fatalf("matchTopic(%q, %q) = %v, Mosquitto says %v", f, tp, got, want)
			}
		}
	}
	t.Logf("%d filter/topic pairs", n)
}
