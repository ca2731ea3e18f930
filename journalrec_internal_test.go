package cmq

import (
	"testing"
	"time"
)

// A record of every type, as the hooks write them, replays to the state
// it describes.
func TestJournalRecordsReplay(t *testing.T) {
	var e enc
	r := newReplay()
	apply := func() {
		t.Helper()
		if err := r.apply(e.b); err != nil {
			t.Fatalf("record type %d: %v", e.b[0], err)
		}
	}
	set := defaults()
	set.rewindPeriod = time.Hour
	set.deadLetter = &DeadLetterPolicy{DeadLetterQueue: "d", Kind: DeadLetterOnTimeToLive, MaxTimeToLive: 5 * time.Minute}
	e.start(recQueue, 100)
	e.queue(&queueRecord{num: 7, name: "Q", id: "queue-x", created: 90, modified: 100, nextSeq: 3, set: set})
	apply()
	e.start(recQueue, 101)
	e.queue(&queueRecord{num: 2, name: "d", id: "queue-d", created: 95, modified: 95, set: defaults()})
	apply()
	e.start(recSend, 200)
	e.u(7)
	e.i(int64(time.Second))
	e.u(3)
	e.u(2)
	e.str("a")
	e.str("b")
	apply()
	rq := r.queues[7]
	if liveCount(rq) != 2 || rq.get(3).body != "a" || rq.get(4).visibleAt != 200+int64(time.Second) || rq.st.nextSeq != 5 {
		t.Fatalf("after send: %+v", rq)
	}
	m := &message{seq: 3, visibleAt: 500, dequeues: 2, firstDeq: 300, nonce: 42, where: inTree}
	e.start(recUpdate, 300)
	e.u(7)
	e.u(1)
	e.state(m)
	apply()
	if got := rq.get(3); got.dequeues != 2 || got.nonce != 42 || got.firstDeq != 300 || got.visibleAt != 500 {
		t.Fatalf("after update: %+v", got)
	}
	e.start(recDelete, 400)
	e.u(7)
	e.u(1)
	e.u(3)
	apply()
	if got := rq.get(3); got == nil || got.where != inNone || got.nonce != 0 {
		t.Fatalf("a delete with a rewind period keeps the message: %+v", got)
	}
	moved := &message{body: "b", seq: 0, enqueued: 450, visibleAt: 450, where: inTree,
		dead: &deadLetter{id: "7-4", src: DeadLetterSource{Queue: "Q", EnqueueTime: unixTime(200), DequeueCount: 0}}}
	e.start(recMove, 450)
	e.u(7)
	e.u(4)
	e.u(2 + 1)
	e.full(moved)
	apply()
	if rq.get(4) != nil || r.queues[2].get(0) == nil || r.queues[2].get(0).dead.id != "7-4" {
		t.Fatalf("after move: %+v %+v", rq.msgs, r.queues[2].msgs)
	}
	e.start(recMessages, 460)
	e.u(7)
	e.u(1)
	e.full(&message{body: "snap", seq: 9, enqueued: 10, visibleAt: 10, where: inTree})
	apply()
	if rq.get(9).body != "snap" || rq.st.nextSeq != 10 {
		t.Fatalf("after snapshot: %+v", rq.get(9))
	}
	e.start(recPurge, 470)
	e.u(7)
	apply()
	if liveCount(rq) != 0 {
		t.Fatal("purge left messages")
	}
	e.start(recDeleteQueue, 480)
	e.u(7)
	apply()
	e.start(recBroker, 490)
	e.u(12)
	apply()
	if r.queues[7] != nil || r.nextNum != 12 || r.last != 490 {
		t.Fatalf("after delete queue and broker record: %v %d %d", r.queues[7], r.nextNum, r.last)
	}
	// A record for a queue replay does not know is skipped, not an error.
	e.start(recSend, 500)
	e.u(99)
	e.i(0)
	e.u(0)
	e.u(1)
	e.str("x")
	apply()
}

// FuzzJournalRecord: replay never panics on any record, and never keeps
// more than the record holds.
func FuzzJournalRecord(f *testing.F) {
	var e enc
	e.start(recSend, 1)
	e.u(0)
	e.i(0)
	e.u(0)
	e.u(1)
	e.str("body")
	f.Add(append([]byte(nil), e.b...))
	e.start(recQueue, 1)
	e.queue(&queueRecord{name: "q", set: defaults()})
	f.Add(append([]byte(nil), e.b...))
	e.start(recMove, 1)
	e.u(0)
	e.u(0)
	e.u(1)
	e.full(&message{body: "x", dead: &deadLetter{id: "0-0"}})
	f.Add(append([]byte(nil), e.b...))
	f.Fuzz(func(t *testing.T, rec []byte) {
		r := newReplay()
		var q enc
		q.start(recQueue, 0)
		q.queue(&queueRecord{num: 0, name: "q", set: defaults()})
		if err := r.apply(q.b); err != nil {
			t.Fatal(err)
		}
		r.apply(rec)
		n := 0
		for _, rq := range r.queues {
			for _, m := range rq.msgs {
				if m != nil {
					n += len(m.body) + 1
				}
			}
		}
		if n > len(rec)+1 {
			t.Fatalf("a %d-byte record made %d bytes of messages", len(rec), n)
		}
	})
}

// defaults returns the settings of a queue created with no attributes.
func defaults() settings {
	l := DefaultLimits()
	return l.defaultSettings()
}

// liveCount returns the number of messages rq holds.
func liveCount(rq *replayQueue) int {
	n := 0
	for _, m := range rq.msgs {
		if m != nil {
			n++
		}
	}
	return n
}
