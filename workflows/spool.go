package workflows

// The inbound queue's overflow in PostgreSQL. A run keeps at most pendingLimit events in its
// state; the later ones wait in the inbound_spool table, written by SpoolEvents and read
// back in order by UnspoolEvents when the queue runs short. So a flood of messages (a
// script, a giveaway) neither grows the run's history without end nor makes the state the
// run hands to the next too large to carry, and echoes and thread-control events, applied as
// they arrive, never wait behind it.

// advanceStore starts the spool's next call: writing the overflow (even while the run is
// about to continue as new: what it carries must fit), or reading events back.
func (c *conversation) advanceStore() {
	if c.store != nil || !c.loaded {
		return
	}
	c.spillOverflow()
	sp := &c.st.Spool
	if c.now().Before(sp.RetryAt) {
		return
	}
	switch {
	case len(sp.Out) > 0:
		batch := sp.Out[:min(len(sp.Out), spoolChunk)]
		c.start(&c.store, ActivitySpoolEvents, SpoolEventsInput{PageID: c.st.PageID, IGSID: c.st.IGSID,
			Events: batch, Acked: sp.Taken}, false, func(get func(any) error) {
			if err := get(nil); err != nil {
				c.spoolFailed(err)
				return
			}
			sp.Count += len(batch)
			sp.Out = sp.Out[len(batch):]
			sp.Backoff = 0
		})
	case c.pausing():
	case sp.Count > 0 && len(c.st.Pending) < spoolLow:
		c.start(&c.store, ActivityUnspoolEvents, UnspoolEventsInput{PageID: c.st.PageID, IGSID: c.st.IGSID,
			After: sp.Taken, Limit: spoolChunk}, false, func(get func(any) error) {
			var res UnspoolEventsResult
			if err := get(&res); err != nil {
				c.spoolFailed(err)
				return
			}
			for _, ev := range res.Events {
				c.st.insertPending(ev)
				sp.Taken = keyOf(ev)
			}
			sp.Count, sp.Min, sp.Backoff = res.Remaining, res.Next, 0
			if sp.Count == 0 {
				sp.Min = EventKey{}
			}
			for _, ev := range sp.Out { // arrived meanwhile, not written yet
				if k := keyOf(ev); sp.Min.IsZero() || k.Less(sp.Min) {
					sp.Min = k
				}
			}
			if !sp.active() {
				sp.Opens = false
			}
		})
	}
}

// spoolFailed: PostgreSQL did not answer (after the activity's retries): try again with
// capped backoff; the events stay where they are (in the state, or in the table).
func (c *conversation) spoolFailed(err error) {
	sp := &c.st.Spool
	sp.Backoff = min(outageMax, maxDuration(outageFirst, sp.Backoff*2))
	sp.RetryAt = c.now().Add(sp.Backoff)
	c.log.Warn("Inbound overflow not written or read", "error", err, "retry_at", sp.RetryAt)
}
