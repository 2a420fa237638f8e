package app

import "time"

// recent remembers ids for a while: each for ttl, and never more than max
// of them (the oldest is forgotten first), so a burst of ended calls cannot
// grow it without bound. Not safe for concurrent use; the App guards it
// with its mutex.
type recent struct {
	ttl   time.Duration
	max   int
	at    map[string]time.Time
	order []recentEntry // in the order added; an id added again appears twice
}

type recentEntry struct {
	id string
	t  time.Time
}

func newRecent(ttl time.Duration, max int) *recent {
	return &recent{ttl: ttl, max: max, at: map[string]time.Time{}}
}

// add remembers id from now on.
func (r *recent) add(id string, now time.Time) {
	r.at[id] = now
	r.order = append(r.order, recentEntry{id, now})
	for len(r.order) > 0 {
		e := r.order[0]
		if now.Sub(e.t) < r.ttl && len(r.at) <= r.max {
			break
		}
		r.order[0] = recentEntry{}
		r.order = r.order[1:]
		if r.at[e.id] == e.t { // not added again since
			delete(r.at, e.id)
		}
	}
}

// has reports whether id was added within the last ttl.
func (r *recent) has(id string, now time.Time) bool {
	t, ok := r.at[id]
	return ok && now.Sub(t) < r.ttl
}

// len is how many ids are remembered.
func (r *recent) len() int { return len(r.at) }
