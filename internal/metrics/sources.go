package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/webhook"
)

// Sources are what the metrics read at every scrape: figures that ariapp
// keeps anyway, so counting them twice could only make them disagree. A
// nil field leaves its families out.
type Sources struct {
	// Calls lists the live calls (app.App.Calls): calls active and parties
	// on hold now, also those adopted after a restart, which never had a
	// call_started in this process.
	Calls func() []app.CallInfo
	// ARI is the event stream's counters (ari.Client.Stats); Connected
	// whether its WebSocket is up (ari.Client.Connected).
	ARI       func() ari.Stats
	Connected func() bool
	// Synced reports whether the calls are reconciled with Asterisk
	// (app.App.Synced); Resync counts the reconciliations
	// (app.App.ResyncStats).
	Synced func() bool
	Resync func() app.ResyncStats
	// Swept is how many unowned channels and bridges the periodic sweep
	// removed (app.App.Swept).
	Swept func() uint64
	// Webhooks is the webhook deliveries' counters (webhook.Sender.Stats).
	Webhooks func() webhook.Stats
}

// errWatched: Watch was called twice.
var errWatched = errors.New("metrics: sources are already watched")

// Watch adds the families read from src at scrape time. It may be called
// once, when the application and the ARI client exist (they take the
// metrics' hooks, so they are built after New).
func (m *Metrics) Watch(src Sources) error {
	err := errWatched
	m.watchOnce.Do(func() { err = m.reg.Register(&sourceCollector{src: src}) })
	return err
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

var (
	descCallsActive = desc("calls_active", "Calls ariapp runs now, by state (ringing, answered).", "state")
	descOnHold      = desc("parties_on_hold", "Parties that hold a call now (a call both parties hold counts twice).")

	descEventsReceived = desc("ari_events_received_total", "Messages read from the ARI event WebSocket.")
	descEventsDropped  = desc("ari_events_dropped_total", "ARI events dropped because the event queue was full (the application fell behind).")
	descDecodeErrors   = desc("ari_event_decode_errors_total", "ARI event messages that could not be decoded.")
	descEventsQueued   = desc("ari_events_queued", "ARI events waiting to be handled now.")
	descWSUp           = desc("ari_websocket_up", "1 while the ARI event WebSocket is connected, else 0.")
	descWSConnects     = desc("ari_websocket_connects_total", "Successful ARI event WebSocket handshakes.")
	descWSReconnects   = desc("ari_websocket_reconnects_total", "ARI event WebSocket handshakes after the first (reconnects after a drop).")

	descSynced       = desc("synced", "1 when the calls are reconciled with Asterisk since the event connection last came up, else 0.")
	descResyncs      = desc("resyncs_total", "Reconciliations with Asterisk after a connect, by result (done; failed: Asterisk's channels and bridges could not be listed).", "result")
	descResyncCalls  = desc("resync_calls_total", "Calls handled by the reconciliations, by action (checked: running calls checked against Asterisk; adopted: rebuilt from channel variables; adopted_ringing: unanswered calls taken over while ringing; started: calls whose StasisStart was missed).", "action")
	descResyncStrays = desc("resync_strays_hung_up_total", "Channels in the Stasis application with no call, hung up by a reconciliation.")
	descSwept        = desc("sweep_removed_total", "Channels and bridges of ariapp's that no call owned, removed by the periodic sweep.")

	descWebhookDeliveries = desc("webhook_deliveries_total", "Call events for webhook receivers, by outcome (delivered: answered 2xx; rejected: a status not worth a retry; given_up: still failing after webhooks.retry_for; dropped: the receiver's queue was full, or a stop left it), one per receiver.", "result")
	descWebhookRetries    = desc("webhook_retries_total", "Webhook POSTs repeated after a failed one.")
)

// sourceCollector reads Sources at scrape time.
type sourceCollector struct{ src Sources }

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	if c.src.Calls != nil {
		ch <- descCallsActive
		ch <- descOnHold
	}
	if c.src.ARI != nil {
		for _, d := range []*prometheus.Desc{descEventsReceived, descEventsDropped, descDecodeErrors, descEventsQueued, descWSConnects, descWSReconnects} {
			ch <- d
		}
	}
	if c.src.Connected != nil {
		ch <- descWSUp
	}
	if c.src.Synced != nil {
		ch <- descSynced
	}
	if c.src.Resync != nil {
		ch <- descResyncs
		ch <- descResyncCalls
		ch <- descResyncStrays
	}
	if c.src.Swept != nil {
		ch <- descSwept
	}
	if c.src.Webhooks != nil {
		ch <- descWebhookDeliveries
		ch <- descWebhookRetries
	}
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if c.src.Calls != nil {
		var ringing, answered, holders int
		for _, ci := range c.src.Calls() {
			switch ci.State {
			case app.CallRinging:
				ringing++
			case app.CallAnswered:
				answered++
			default:
				continue // ended, about to leave the list
			}
			holders += len(ci.Holders)
		}
		gauge(descCallsActive, float64(ringing), string(app.CallRinging))
		gauge(descCallsActive, float64(answered), string(app.CallAnswered))
		gauge(descOnHold, float64(holders))
	}
	if c.src.ARI != nil {
		s := c.src.ARI()
		counter(descEventsReceived, s.Received)
		counter(descEventsDropped, s.Dropped)
		counter(descDecodeErrors, s.DecodeErrors)
		gauge(descEventsQueued, float64(s.Queued))
		counter(descWSConnects, s.Connects)
		counter(descWSReconnects, max(s.Connects, 1)-1)
	}
	if c.src.Connected != nil {
		gauge(descWSUp, boolValue(c.src.Connected()))
	}
	if c.src.Synced != nil {
		gauge(descSynced, boolValue(c.src.Synced()))
	}
	if c.src.Resync != nil {
		r := c.src.Resync()
		counter(descResyncs, r.Done, "done")
		counter(descResyncs, r.Failed, "failed")
		counter(descResyncCalls, r.CallsChecked, "checked")
		counter(descResyncCalls, r.CallsAdopted, "adopted")
		counter(descResyncCalls, r.RingingAdopted, "adopted_ringing")
		counter(descResyncCalls, r.CallsStarted, "started")
		counter(descResyncStrays, r.StraysHungUp)
	}
	if c.src.Swept != nil {
		counter(descSwept, c.src.Swept())
	}
	if c.src.Webhooks != nil {
		w := c.src.Webhooks()
		counter(descWebhookDeliveries, w.Delivered, "delivered")
		counter(descWebhookDeliveries, w.Rejected, "rejected")
		counter(descWebhookDeliveries, w.GivenUp, "given_up")
		counter(descWebhookDeliveries, w.Dropped, "dropped")
		counter(descWebhookRetries, w.Retries)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
