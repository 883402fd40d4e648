package server

import (
	"slices"
	"strings"
)

// filterSet is the set of a session's subscription filters, kept to remove them from the topic index when the
// session ends. Most sessions have one or two, so it is a sorted slice of strings (binary search to find, a
// short move to insert): one filter costs its string and a 16-byte slot, where a Go map costs a few hundred bytes.
type filterSet []string

func (f filterSet) find(filter []byte) (int, bool) {
	return slices.BinarySearchFunc(f, filter, func(e string, t []byte) int { return strings.Compare(e, string(t)) })
}

// has reports whether filter is in the set.
func (f filterSet) has(filter []byte) bool {
	_, ok := f.find(filter)
	return ok
}

// add puts filter in the set (a copy of it) unless it is there already.
func (f *filterSet) add(filter []byte) {
	i, ok := f.find(filter)
	if !ok {
		*f = slices.Insert(*f, i, string(filter))
	}
}

// remove takes filter out of the set and reports whether it was there.
func (f *filterSet) remove(filter []byte) bool {
	i, ok := f.find(filter)
	if ok {
		*f = slices.Delete(*f, i, i+1)
		if len(*f) == 0 {
			*f = nil
		}
	}
	return ok
}
