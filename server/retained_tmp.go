package server

// Temporary stand-in for topic.Retained until the topic branch lands it; same API. Remove on merge.

import (
	"sort"
	"sync"

	"loopmq/topic"
)

type retainedStore[M any] struct {
	mu sync.RWMutex
	m  map[string]M
}

type retainedCursor[M any] struct{ after string }

func newRetainedStore[M any]() *retainedStore[M] { return &retainedStore[M]{m: map[string]M{}} }

func (r *retainedStore[M]) Len() int { r.mu.RLock(); defer r.mu.RUnlock(); return len(r.m) }

func (r *retainedStore[M]) Set(t []byte, m M) (old M, replaced bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, replaced = r.m[string(t)]
	r.m[string(t)] = m
	return
}

func (r *retainedStore[M]) Get(t []byte) (m M, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok = r.m[string(t)]
	return
}

func (r *retainedStore[M]) Delete(t []byte) (old M, deleted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, deleted = r.m[string(t)]
	delete(r.m, string(t))
	return
}

func (r *retainedStore[M]) Walk(filter []byte, c retainedCursor[M], limit int, fn func([]byte, M) bool) (retainedCursor[M], bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	keys := make([]string, 0, len(r.m))
	for k := range r.m {
		if k > c.after && topic.Matches(filter, []byte(k)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for i, k := range keys {
		if limit > 0 && i >= limit {
			return retainedCursor[M]{after: keys[i-1]}, true
		}
		if !fn([]byte(k), r.m[k]) {
			return retainedCursor[M]{after: k}, true
		}
	}
	return retainedCursor[M]{}, false
}
