package app

import (
	"sort"
	"sync"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// TimelineEntry is one line of a call's story: an ARI request ariapp made
// for it, an ARI event of its channels, bridge or playbacks, or a call
// event.
type TimelineEntry struct {
	Time time.Time `json:"time"`
	// Kind is "request", "ari_event" or "call_event".
	Kind string `json:"kind"`
	// Name is the request's method and route ("POST
	// /bridges/{id}/removeChannel"), the ARI event's type or the call
	// event's name.
	Name  string `json:"name"`
	Party Role   `json:"party,omitempty"`
	// Status and TookMs are a request's reply status (0: none came) and
	// duration.
	Status int     `json:"status,omitempty"`
	TookMs float64 `json:"took_ms,omitempty"`
	// Detail is Asterisk's error text of a failed request, the media of a
	// playback, the reason of a call event.
	Detail string `json:"detail,omitempty"`
}

// Timeline is the recent story of one call, oldest first.
type Timeline struct {
	CallID  string          `json:"call_id"`
	Entries []TimelineEntry `json:"entries"`
	// Dropped is how many older entries the bounded timeline no longer
	// holds (Config.TimelineSize).
	Dropped int `json:"dropped"`
}

// timeline is a call's bounded ring of entries. The call's goroutine, the
// dispatcher and the ARI client's request hook all add to it.
type timeline struct {
	mu      sync.Mutex
	entries []TimelineEntry // ring once len == max
	next    int             // where the next entry goes, once full
	max     int
	dropped int
}

func (t *timeline) add(e TimelineEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) < t.max {
		t.entries = append(t.entries, e)
		return
	}
	t.entries[t.next] = e
	t.next = (t.next + 1) % t.max
	t.dropped++
}

func (t *timeline) snapshot(callID string) Timeline {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := Timeline{CallID: callID, Entries: make([]TimelineEntry, 0, len(t.entries)), Dropped: t.dropped}
	out.Entries = append(out.Entries, t.entries[t.next:]...)
	out.Entries = append(out.Entries, t.entries[:t.next]...)
	// A request is added when its reply came, dated when it was sent:
	// after the events it caused, which Asterisk sends first. In time
	// order it comes before them.
	sort.SliceStable(out.Entries, func(i, j int) bool { return out.Entries[i].Time.Before(out.Entries[j].Time) })
	return out
}

// Timeline returns the recent story of a live call, or of one that ended
// lately (the last endedTimelines calls).
func (a *App) Timeline(callID string) (Timeline, error) {
	a.mu.RLock()
	c := a.calls[callID]
	ended := a.endedTimelines.get(callID)
	a.mu.RUnlock()
	switch {
	case c != nil:
		return c.timeline.snapshot(callID), nil
	case ended != nil:
		return ended.snapshot(callID), nil
	}
	return Timeline{}, errCallNotFound(callID)
}

// RecordRequest adds an ARI request to the timeline of the call it was made
// for (its ari.Tag); for the ARI client's OnRequest hook.
func (a *App) RecordRequest(r *ari.Request) {
	if r.Tag.CallID == "" {
		return
	}
	a.mu.RLock()
	c := a.calls[r.Tag.CallID]
	a.mu.RUnlock()
	if c == nil {
		return
	}
	c.timeline.add(TimelineEntry{Time: time.Now().Add(-r.Duration), Kind: "request", Name: r.Method + " " + r.Route,
		Party: Role(r.Tag.Party), Status: r.Status, TookMs: float64(r.Duration.Microseconds()) / 1000, Detail: r.Message()})
}

// recordEvent adds an ARI event routed to c to its timeline.
func (c *call) recordEvent(ev ari.Event) {
	r := ari.RefsOf(ev)
	e := TimelineEntry{Time: time.Now(), Kind: "ari_event", Name: ev.GetType()}
	if p := c.partyByChannel(r.ChannelID); p != nil {
		e.Party = p.role
	}
	switch ev := ev.(type) {
	case *ari.PlaybackStarted:
		e.Detail = ev.Playback.MediaURI
	case *ari.PlaybackFinished:
		e.Detail = ev.Playback.MediaURI + " " + ev.Playback.State
	case *ari.ChannelDestroyed:
		e.Detail = ev.CauseTxt
	}
	c.timeline.add(e)
}

// endedTimelinesMax is how many ended calls' timelines are kept.
const endedTimelinesMax = 256

// timelines keeps the timelines of the last ended calls, oldest forgotten
// first; guarded by the App's mutex.
type timelines struct {
	byID  map[string]*timeline
	order []string
}

func (t *timelines) put(id string, tl *timeline) {
	if t.byID == nil {
		t.byID = map[string]*timeline{}
	}
	t.byID[id] = tl
	t.order = append(t.order, id)
	for len(t.order) > endedTimelinesMax {
		delete(t.byID, t.order[0])
		t.order[0] = ""
		t.order = t.order[1:]
	}
}

func (t *timelines) get(id string) *timeline { return t.byID[id] }
