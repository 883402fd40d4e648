package topic

// Error is a rule broken by a topic name or filter. It carries the MQTT 5 reason code the broker sends back
// (0x8F Topic Filter invalid in SUBACK/UNSUBACK/DISCONNECT, 0x90 Topic Name invalid in PUBACK/PUBREC/DISCONNECT)
// and the normative clause it violates. The package returns only the package-level values below, so returning
// an error never allocates and callers may compare with ==.
type Error struct {
	// Code is the MQTT 5 reason code for this error.
	Code byte
	// Rule names the normative statement, e.g. "MQTT-4.7.1-1", or the section when the spec has no tag.
	Rule string
	msg  string
}

// Error returns a message naming the rule that was broken.
func (e *Error) Error() string { return "topic: " + e.msg + " [" + e.Rule + "]" }

// Reason codes used by this package, as defined in MQTT 5.0 §2.4.
const (
	ReasonTopicFilterInvalid byte = 0x8F
	ReasonTopicNameInvalid   byte = 0x90
)

// Errors for topic names (PUBLISH, Will topic).
var (
	ErrNameEmpty    = &Error{ReasonTopicNameInvalid, "MQTT-4.7.3-1", "topic name is empty"}
	ErrNameTooLong  = &Error{ReasonTopicNameInvalid, "§1.5.4", "topic name is longer than 65535 bytes"}
	ErrNameWildcard = &Error{ReasonTopicNameInvalid, "MQTT-3.3.2-2", "topic name contains a wildcard character"}
	ErrNameUTF8     = &Error{ReasonTopicNameInvalid, "MQTT-1.5.4-1", "topic name is not well-formed UTF-8"}
	ErrNameNull     = &Error{ReasonTopicNameInvalid, "MQTT-1.5.4-2", "topic name contains U+0000"}
)

// Errors for topic filters (SUBSCRIBE, UNSUBSCRIBE).
var (
	ErrFilterEmpty      = &Error{ReasonTopicFilterInvalid, "MQTT-4.7.3-1", "topic filter is empty"}
	ErrFilterTooLong    = &Error{ReasonTopicFilterInvalid, "§1.5.4", "topic filter is longer than 65535 bytes"}
	ErrFilterUTF8       = &Error{ReasonTopicFilterInvalid, "MQTT-1.5.4-1", "topic filter is not well-formed UTF-8"}
	ErrFilterNull       = &Error{ReasonTopicFilterInvalid, "MQTT-1.5.4-2", "topic filter contains U+0000"}
	ErrFilterMultiWild  = &Error{ReasonTopicFilterInvalid, "MQTT-4.7.1-1", "'#' must be the last character and occupy a whole level"}
	ErrFilterSingleWild = &Error{ReasonTopicFilterInvalid, "MQTT-4.7.1-2", "'+' must occupy a whole level"}
)

// Errors for shared subscription filters ($share/{ShareName}/{filter}).
var (
	ErrShareNameEmpty    = &Error{ReasonTopicFilterInvalid, "MQTT-4.8.2-1", "shared subscription has an empty ShareName"}
	ErrShareNameWildcard = &Error{ReasonTopicFilterInvalid, "MQTT-4.8.2-2", "ShareName contains '/', '+' or '#'"}
	ErrShareNoFilter     = &Error{ReasonTopicFilterInvalid, "MQTT-4.8.2-2", "shared subscription has no topic filter after the ShareName"}
)
