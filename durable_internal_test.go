package cmq

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencmq/cmq/internal/wal"
	"github.com/opencmq/cmq/internal/wal/faultfs"
	"github.com/stretchr/testify/require"
)

// withFS makes a durable broker keep its log in fs (a fault-injecting one).
func withFS(fs wal.FS) Option { return func(c *brokerConfig) { c.fs = fs } }

// withSegmentBytes sets the size of the log's segments.
func withSegmentBytes(n int64) Option { return func(c *brokerConfig) { c.segment = n } }

// dump describes b's whole state, every field replay must restore, in a
// stable order.
func dump(t *testing.T, b *Broker) string {
	t.Helper()
	var sb strings.Builder
	b.mu.RLock()
	names := make([]string, 0, len(b.queues))
	for k := range b.queues {
		names = append(names, k)
	}
	fmt.Fprintf(&sb, "nextNum %d\n", b.nextNum)
	b.mu.RUnlock()
	slices.Sort(names)
	for _, name := range names {
		q, err := b.Queue(name)
		require.NoError(t, err)
		now, err := q.lock()
		require.NoError(t, err)
		dlq := ""
		if q.dlq != nil {
			dlq = q.dlq.name
		}
		set := q.set
		set.deadLetter = nil // printed below, not as a pointer
		fmt.Fprintf(&sb, "queue %s num %d id %s created %d modified %d nextSeq %d set %+v dl %+v dlq %q counts %d/%d/%d/%d stored %d\n",
			q.name, q.num, q.id, q.created, q.modified, q.nextSeq, set, q.set.deadLetter, dlq,
			q.active, q.inactive, q.delayed, q.rewound, q.stored)
		for m := q.log.first(); m != nil; m = m.newer {
			id := q.messageID(m.seq)
			if m.dead != nil {
				id = m.dead.id + fmt.Sprintf(" from %+v", m.dead.src)
			}
			fmt.Fprintf(&sb, "  %s seq %d body %q enq %d vis %d deq %d first %d nonce %x alive %v visible %v\n",
				id, m.seq, m.body, m.enqueued, m.visibleAt, m.dequeues, m.firstDeq, m.nonce, m.where != inNone, m.visibleAt <= now)
		}
		q.unlock()
	}
	fmt.Fprintf(&sb, "stored %d\n", b.stored.Load())
	return sb.String()
}

// workload changes b in every way the journal records, and returns a
// receipt handle of a lease still running, on queue "main".
func workload(t *testing.T, b *Broker) string {
	t.Helper()
	ctx := context.Background()
	dead, err := b.CreateQueue(ctx, "dead", QueueAttributes{})
	require.NoError(t, err)
	_ = dead
	q, err := b.CreateQueue(ctx, "main", QueueAttributes{VisibilityTimeout: Ptr(time.Hour), RewindPeriod: Ptr(time.Hour),
		DeadLetterPolicy: &DeadLetterPolicy{DeadLetterQueue: "dead", Kind: DeadLetterOnMaxReceive, MaxReceiveCount: 1}})
	require.NoError(t, err)
	ttl, err := b.CreateQueue(ctx, "ttl", QueueAttributes{})
	require.NoError(t, err)
	gone, err := b.CreateQueue(ctx, "gone", QueueAttributes{})
	require.NoError(t, err)
	_, err = gone.Send(ctx, "in a deleted queue", 0)
	require.NoError(t, err)
	require.NoError(t, b.DeleteQueue(ctx, "gone"))
	_, err = b.CreateQueue(ctx, "Gone", QueueAttributes{}) // the name again, a new number
	require.NoError(t, err)

	_, err = q.BatchSend(ctx, []string{"a", "b", "c", "d", "e"}, 0)
	require.NoError(t, err)
	_, err = q.Send(ctx, "delayed", time.Minute)
	require.NoError(t, err)
	ms, err := q.BatchReceive(ctx, 4, 0)
	require.NoError(t, err)
	require.NoError(t, q.Delete(ctx, ms[0].ReceiptHandle))                                         // kept for rewind
	_, err = q.BatchDelete(ctx, []string{ms[1].ReceiptHandle, "0000000000000000ffffffffffffffff"}) // partly
	require.ErrorIs(t, err, ErrBatchDeletePartial)
	_, err = q.ChangeVisibility(ctx, ms[2].ReceiptHandle, 0) // visible again: the next receive moves it
	require.NoError(t, err)
	m, err := q.Receive(ctx, 0) // moves "c" (received once) to dead, then takes "e"
	require.NoError(t, err)
	require.Equal(t, "e", m.Body)
	require.NoError(t, q.SetAttributes(ctx, QueueAttributes{MaxMsgSize: Ptr(2048)}))

	_, err = ttl.Send(ctx, "purged", 0)
	require.NoError(t, err)
	require.NoError(t, ttl.Purge(ctx))
	_, err = ttl.Send(ctx, "kept", 0)
	require.NoError(t, err)
	require.NoError(t, ttl.SetAttributes(ctx, QueueAttributes{DeadLetterPolicy: &DeadLetterPolicy{DeadLetterQueue: "dead", Kind: DeadLetterOnTimeToLive, MaxTimeToLive: 5 * time.Minute}}))
	require.NoError(t, ttl.UnbindDeadLetterQueue(ctx))
	return ms[3].ReceiptHandle
}

// A durable broker reopened is exactly the broker that was closed, and a
// lease's receipt handle still works.
func TestDurableReopenExact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := Open(ctx, dir)
	require.NoError(t, err)
	handle := workload(t, b)
	// A rewind revives the deleted and received messages.
	q, _ := b.Queue("main")
	require.NoError(t, q.Rewind(ctx, time.Unix(0, q.created)))
	before := dump(t, b)
	require.NoError(t, b.Close())

	b, err = Open(ctx, dir)
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, before, dump(t, b))
	q, _ = b.Queue("main")
	require.ErrorIs(t, q.Delete(ctx, handle), ErrInvalidReceiptHandle,
		"the rewind before the close ended that lease, and the reopen keeps it ended")
	m, err := q.Receive(ctx, 0)
	require.NoError(t, err)
	before = dump(t, b)
	require.NoError(t, b.Close())
	b, err = Open(ctx, dir)
	require.NoError(t, err)
	require.Equal(t, before, dump(t, b))
	q, _ = b.Queue("main")
	require.NoError(t, q.Delete(ctx, m.ReceiptHandle), "a lease taken before the reopen keeps its handle")
}

// A queue whose newest messages were deleted before a restart goes on
// from its last seq, past the newest message it keeps: later sends, their
// receives and their receipt handles work as before the restart (the
// message log once put such a send in the slot of the seq it skipped,
// so a receive found nothing there and panicked, and handles named the
// wrong message).
func TestDurableReopenAfterNewestDeleted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := Open(ctx, dir)
	require.NoError(t, err)
	q, err := b.CreateQueue(ctx, "q", QueueAttributes{})
	require.NoError(t, err)
	for _, body := range []string{"kept", "deleted-1", "deleted-2"} {
		_, err := q.Send(ctx, body, 0)
		require.NoError(t, err)
	}
	kept, err := q.Receive(ctx, 0)
	require.NoError(t, err)
	for range 2 {
		m, err := q.Receive(ctx, 0)
		require.NoError(t, err)
		require.NoError(t, q.Delete(ctx, m.ReceiptHandle))
	}
	require.NoError(t, b.Close())

	b, err = Open(ctx, dir)
	require.NoError(t, err)
	defer b.Close()
	q, err = b.Queue("q")
	require.NoError(t, err)
	for _, body := range []string{"after-1", "after-2"} {
		_, err := q.Send(ctx, body, 0)
		require.NoError(t, err)
	}
	var got []string
	for range 2 {
		m, err := q.Receive(ctx, 0)
		require.NoError(t, err)
		got = append(got, m.Body)
		require.NoError(t, q.Delete(ctx, m.ReceiptHandle), m.Body)
	}
	require.Equal(t, []string{"after-1", "after-2"}, got)
	require.NoError(t, q.Delete(ctx, kept.ReceiptHandle), "the lease from before the restart")
	info, err := q.Attributes(ctx)
	require.NoError(t, err)
	require.Zero(t, info.ActiveMsgNum+info.InactiveMsgNum)
}

// Ids never repeat across restarts, even after the records of a deleted
// queue are compacted away; the clock never goes back behind the log.
func TestDurableIDsAndClock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	seen := map[string]bool{}
	var last int64
	for round := range 4 {
		b, err := Open(ctx, dir, withSegmentBytes(4096))
		require.NoError(t, err)
		require.GreaterOrEqual(t, b.now(), last, "round %d: the clock went back", round)
		name := fmt.Sprintf("q%d", round%2)
		b.DeleteQueue(ctx, name)
		q, err := b.CreateQueue(ctx, name, QueueAttributes{})
		require.NoError(t, err)
		for range 50 {
			id, err := q.Send(ctx, strings.Repeat("x", 100), 0)
			require.NoError(t, err)
			require.False(t, seen[id], "id %s repeated", id)
			seen[id] = true
		}
		last = b.now()
		require.NoError(t, b.Close())
	}
}

// The clock of a broker reopened on a machine whose wall clock is behind
// the log starts at the log's last instant.
func TestDurableClockNotBehindLog(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b, err := Open(ctx, dir) // today's wall clock
	require.NoError(t, err)
	q, err := b.CreateQueue(ctx, "q", QueueAttributes{})
	require.NoError(t, err)
	_, err = q.Send(ctx, "m", 0)
	require.NoError(t, err)
	logged := q.log.first().enqueued // the send's instant: the log's last
	require.NoError(t, b.Close())
	synctest.Test(t, func(t *testing.T) { // the bubble's clock reads the year 2000
		b, err := Open(ctx, dir)
		require.NoError(t, err)
		defer b.Close()
		require.GreaterOrEqual(t, b.now(), logged)
		q, _ := b.Queue("q")
		m, err := q.Receive(ctx, 0)
		require.NoError(t, err, "the message is visible: its enqueue time is not in the broker's future")
		require.Equal(t, "m", m.Body)
	})
}

// A torn last record (a crash mid-write) is cut at every byte offset: the
// broker opens with everything before it, and works on.
func TestDurableTornTail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := Open(ctx, dir)
	require.NoError(t, err)
	workload(t, b)
	q, _ := b.Queue("main")
	before := dump(t, b)
	seg := filepath.Join(dir, "00000000000000000001.wal")
	st, err := os.Stat(seg)
	require.NoError(t, err)
	start := st.Size()
	_, err = q.BatchSend(ctx, []string{"last", "batch"}, 0)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	full, err := os.ReadFile(seg)
	require.NoError(t, err)
	for cut := start; cut < int64(len(full)); cut++ {
		d := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(d, filepath.Base(seg)), full[:cut], 0o644))
		b, err := Open(ctx, d)
		require.NoError(t, err, "cut at %d", cut)
		require.Equal(t, before, dump(t, b), "cut at %d: only the torn batch may be lost", cut)
		q, _ := b.Queue("main")
		_, err = q.Send(ctx, "after", 0)
		require.NoError(t, err)
		require.NoError(t, b.Close())
	}
}

// A flipped byte in the middle of the log makes Open fail, naming the file
// and the offset.
func TestDurableCorruptMiddle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := Open(ctx, dir)
	require.NoError(t, err)
	workload(t, b)
	require.NoError(t, b.Close())
	seg := filepath.Join(dir, "00000000000000000001.wal")
	data, err := os.ReadFile(seg)
	require.NoError(t, err)
	for _, at := range []int{len(data) / 3, len(data) / 2, 2 * len(data) / 3} {
		bad := slices.Clone(data)
		bad[at] ^= 0x40
		d := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(d, filepath.Base(seg)), bad, 0o644))
		_, err := Open(ctx, d)
		require.ErrorIs(t, err, ErrJournal, "flip at %d", at)
		require.ErrorIs(t, err, wal.ErrCorrupt)
		require.Contains(t, err.Error(), filepath.Base(seg))
		require.Contains(t, err.Error(), "offset")
	}
}

// A second Open of a directory in use fails.
func TestDurableLocked(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(context.Background(), dir)
	require.NoError(t, err)
	defer b.Close()
	_, err = Open(context.Background(), dir)
	require.ErrorIs(t, err, ErrJournal)
	require.ErrorIs(t, err, wal.ErrLocked)
}

// Power loss: under SyncAlways every acknowledged send and delete survives
// a crash that drops a random part of what was not synced.
func TestDurablePowerLoss(t *testing.T) {
	rounds := 30
	if soaking() {
		rounds = 500
	}
	ctx := context.Background()
	for round := range rounds {
		fs := faultfs.New()
		b, err := Open(ctx, "/d", withFS(fs))
		require.NoError(t, err)
		q, err := b.CreateQueue(ctx, "q", QueueAttributes{})
		require.NoError(t, err)
		var mu sync.Mutex
		sent, deleted, deleting := map[string]bool{}, map[string]bool{}, map[string]bool{}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		want, enough := 20+round%40, make(chan struct{}) // closed at the want-th acknowledged send
		for g := range 4 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if r.IntN(2) == 0 {
						id, err := q.Send(ctx, fmt.Sprintf("r%d-g%d-%d", round, g, i), 0)
						if err != nil {
							return // crashed
						}
						mu.Lock()
						sent[id] = true
						if len(sent) == want {
							close(enough)
						}
						mu.Unlock()
						continue
					}
					m, err := q.Receive(ctx, 0)
					if errors.Is(err, ErrNoMessage) {
						continue
					}
					if err != nil {
						return
					}
					mu.Lock()
					deleting[m.ID] = true // may be durable before it is acknowledged
					mu.Unlock()
					if q.Delete(ctx, m.ReceiptHandle) != nil {
						return
					}
					mu.Lock()
					deleted[m.ID] = true
					mu.Unlock()
				}
			})
		}
		// Real goroutines on an in-memory file system: wait for the
		// acknowledged sends, bounded in time.
		select {
		case <-enough:
		case <-time.After(20 * time.Second):
			mu.Lock()
			n := len(sent)
			mu.Unlock()
			t.Fatalf("round %d: only %d sends acknowledged in 20 s", round, n)
		}
		mu.Lock()
		crashed := fs.Crash(rand.New(rand.NewPCG(uint64(round), 99)))
		ackedSent, ackedDeleted, begun := maps.Clone(sent), maps.Clone(deleted), maps.Clone(deleting)
		mu.Unlock()
		close(stop)
		wg.Wait()
		b.Close()

		b, err = Open(ctx, "/d", withFS(crashed))
		require.NoError(t, err, "round %d", round)
		q, err = b.Queue("q")
		require.NoError(t, err)
		present := map[string]bool{}
		q.mu.Lock()
		for m := q.log.first(); m != nil; m = m.newer {
			present[q.messageID(m.seq)] = true
		}
		q.mu.Unlock()
		for id := range ackedSent {
			if !ackedDeleted[id] && !begun[id] && !present[id] {
				t.Fatalf("round %d: acknowledged message %s lost", round, id)
			}
		}
		for id := range ackedDeleted {
			require.False(t, present[id], "round %d: acknowledged delete of %s undone", round, id)
		}
		require.NoError(t, b.Close())
	}
}

// A failed fsync fails the broker for good: the call that met it and every
// later one return ErrJournal, and the fsync is never retried.
func TestDurableSyncFailure(t *testing.T) {
	ctx := context.Background()
	fs := faultfs.New()
	b, err := Open(ctx, "/d", withFS(fs))
	require.NoError(t, err)
	defer b.Close()
	q, err := b.CreateQueue(ctx, "q", QueueAttributes{})
	require.NoError(t, err)
	require.NoError(t, b.Health())
	boom := errors.New("EIO")
	fs.SetFault(func(op faultfs.Op, _ string) error {
		if op == faultfs.OpSync {
			return boom
		}
		return nil
	})
	_, err = q.Send(ctx, "lost", 0)
	require.ErrorIs(t, err, ErrJournal)
	syncs := fs.Count(faultfs.OpSync)
	fs.SetFault(nil)
	_, err = q.Send(ctx, "refused", 0)
	require.ErrorIs(t, err, ErrJournal)
	_, err = b.CreateQueue(ctx, "other", QueueAttributes{})
	require.ErrorIs(t, err, ErrJournal)
	require.Equal(t, syncs, fs.Count(faultfs.OpSync), "no fsync after the failure")
	// Readiness probes (cmqd's /readyz) see the failure through Health.
	require.ErrorIs(t, b.Health(), ErrJournal)
	require.ErrorIs(t, b.Health(), boom)
}

// Compaction keeps the log at most twice the live data plus a segment, and
// disk use shrinks when messages are deleted or expire.
func TestDurableCompaction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		dir := t.TempDir()
		const seg = 64 << 10
		b, err := Open(ctx, dir, withSegmentBytes(seg), WithSync(SyncNone))
		require.NoError(t, err)
		q, err := b.CreateQueue(ctx, "q", QueueAttributes{MsgRetention: Ptr(time.Minute)})
		require.NoError(t, err)
		body := strings.Repeat("x", 1000)
		peak := int64(0)
		for i := range 2000 {
			_, err := q.Send(ctx, body, 0)
			require.NoError(t, err)
			if i%2 == 1 { // every other message is received and deleted
				m, err := q.Receive(ctx, 0)
				require.NoError(t, err)
				require.NoError(t, q.Delete(ctx, m.ReceiptHandle))
			}
			synctest.Wait() // a compaction started by this call has finished
			live := b.stored.Load()
			size := b.j.log.Size()
			peak = max(peak, size)
			require.LessOrEqual(t, size, 2*live+2*seg+64<<10, "step %d: log %d bytes for %d live", i, size, live)
		}
		full := b.j.log.Size()
		time.Sleep(61 * time.Second) // every message expires
		_, err = q.Send(ctx, "after", 0)
		require.NoError(t, err)
		synctest.Wait()
		_, err = q.Send(ctx, "after", 0) // the first send dropped the expired ones and may have started it
		require.NoError(t, err)
		synctest.Wait()
		shrunk := b.j.log.Size()
		require.Less(t, shrunk, full/4, "expired messages leave the log: %d bytes, was %d", shrunk, full)
		before := dump(t, b)
		require.NoError(t, b.Close())
		b, err = Open(ctx, dir, withSegmentBytes(seg))
		require.NoError(t, err)
		defer b.Close()
		require.Equal(t, before, dump(t, b))
		t.Logf("peak %d bytes, full %d, after expiry %d", peak, full, shrunk)
	})
}

// ParseSyncPolicy reads what String writes, and refuses anything else.
func TestParseSyncPolicy(t *testing.T) {
	for _, p := range []SyncPolicy{SyncAlways, SyncNone, SyncEvery(10 * time.Millisecond), SyncEvery(time.Minute)} {
		got, err := ParseSyncPolicy(p.String())
		require.NoError(t, err, p.String())
		require.Equal(t, p, got)
	}
	require.Equal(t, SyncAlways, SyncEvery(0))
	require.Equal(t, SyncAlways, SyncPolicy{}, "the zero policy is always")
	for _, bad := range []string{"", "sometimes", "0s", "-1s", "10"} {
		_, err := ParseSyncPolicy(bad)
		require.ErrorIs(t, err, ErrInvalidParameter, bad)
	}
}

// Open's error paths: a done context opens nothing; a directory that cannot
// be made is an ErrJournal naming it.
func TestDurableOpenErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	_, err := Open(ctx, dir)
	require.ErrorIs(t, err, context.Canceled)
	b, err := Open(context.Background(), dir) // nothing was locked or left open
	require.NoError(t, err)
	require.NoError(t, b.Close())

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = Open(context.Background(), filepath.Join(file, "sub"))
	require.ErrorIs(t, err, ErrJournal)
	require.Contains(t, err.Error(), file)

	_, err = Open(context.Background(), t.TempDir(), WithLimits(Limits{}))
	require.ErrorIs(t, err, ErrInvalidParameter, "limits are checked before the directory is touched")
}

// Compactions that run while other goroutines send, receive, delete and
// rewind (each queue's snapshot is taken in steps, its lock released
// between them) still leave a log that replays to exactly the broker that
// was closed.
func TestDurableCompactionConcurrent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := Open(ctx, dir, withSegmentBytes(32<<10), WithSync(SyncNone))
	require.NoError(t, err)
	var qs []*Queue
	for i, rewind := range []time.Duration{time.Hour, 0} { // q1 churns: its deletes keep nothing
		q, err := b.CreateQueue(ctx, fmt.Sprintf("q%d", i), QueueAttributes{RewindPeriod: Ptr(rewind), VisibilityTimeout: Ptr(time.Hour)})
		require.NoError(t, err)
		qs = append(qs, q)
	}
	var wg sync.WaitGroup
	wg.Go(func() { // compactions on top of those the log's growth starts
		for range 20 {
			if b.j.compacting.CompareAndSwap(false, true) {
				b.j.wg.Add(1)
				b.compact()
			}
			runtime.Gosched()
		}
	})
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			q := qs[g%2]
			for i := range 3000 {
				switch r.IntN(5) {
				case 0, 1:
					q.Send(ctx, strings.Repeat("x", 200+r.IntN(200)), 0)
				case 2:
					if m, err := q.Receive(ctx, 0); err == nil && (g%2 == 1 || r.IntN(2) == 0) {
						q.Delete(ctx, m.ReceiptHandle)
					}
				case 3:
					if ms, err := q.BatchReceive(ctx, 4, 0); err == nil {
						hs := make([]string, len(ms))
						for k, m := range ms {
							hs[k] = m.ReceiptHandle
						}
						q.BatchDelete(ctx, hs)
					}
				default:
					if i%200 == 0 {
						q.Rewind(ctx, time.Unix(0, b.now()-int64(time.Second)))
					}
				}
			}
		})
	}
	wg.Wait()
	b.j.wg.Wait() // a compaction still running
	first, _ := b.j.log.Segments()
	require.Greater(t, first, uint64(1), "compactions ran and removed the first segments")
	before := dump(t, b)
	require.NoError(t, b.Close())
	b, err = Open(ctx, dir, withSegmentBytes(32<<10))
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, before, dump(t, b))
}

// TestDurableCompactionPowerLoss: under SyncNone a power loss may lose the
// latest changes, never what compaction moved: the snapshot is fsynced
// before the segments it replaces are removed. Messages kept before the
// compaction survive a crash right after it.
func TestDurableCompactionPowerLoss(t *testing.T) {
	for seed := range uint64(5) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			fs := faultfs.New()
			const seg = 64 << 10
			b, err := Open(ctx, "/d", withFS(fs), withSegmentBytes(seg), WithSync(SyncNone))
			require.NoError(t, err)
			q, err := b.CreateQueue(ctx, "keep", QueueAttributes{})
			require.NoError(t, err)
			churn, err := b.CreateQueue(ctx, "churn", QueueAttributes{})
			require.NoError(t, err)
			body := strings.Repeat("k", 1000)
			kept := map[string]bool{}
			for range 30 { // a snapshot smaller than a segment: no rotation syncs it
				id, err := q.Send(ctx, body, 0)
				require.NoError(t, err)
				kept[id] = true
			}
			first, _ := b.j.log.Segments()
			for i := 0; ; i++ { // churn until a compaction has removed the first segments
				require.Less(t, i, 10000, "no compaction")
				_, err := churn.Send(ctx, body, 0)
				require.NoError(t, err)
				m, err := churn.Receive(ctx, 0)
				require.NoError(t, err)
				require.NoError(t, churn.Delete(ctx, m.ReceiptHandle))
				synctest.Wait() // a compaction started by this call has finished
				if f, _ := b.j.log.Segments(); f != first {
					break
				}
			}
			crashed := fs.Crash(rand.New(rand.NewPCG(seed, 7)))
			b.Close()
			b, err = Open(ctx, "/d", withFS(crashed))
			require.NoError(t, err)
			defer b.Close()
			require.Equal(t, kept, receiveIDs(t, b, "keep"), "seed %d", seed)
		})
	}
}

// A compaction that fails (here: removing the segments its snapshot
// replaces) fails the broker like a failed fsync: later calls get
// ErrJournal, and Health says why. Reopened, the directory holds every
// acknowledged message.
func TestDurableCompactionFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		fs := faultfs.New()
		boom := errors.New("EIO")
		fs.SetFault(func(op faultfs.Op, _ string) error {
			if op == faultfs.OpRemove {
				return boom
			}
			return nil
		})
		b, err := Open(ctx, "/d", withFS(fs), withSegmentBytes(64<<10), WithSync(SyncNone))
		require.NoError(t, err)
		keep, err := b.CreateQueue(ctx, "keep", QueueAttributes{})
		require.NoError(t, err)
		churn, err := b.CreateQueue(ctx, "churn", QueueAttributes{})
		require.NoError(t, err)
		kept := map[string]bool{}
		for range 10 {
			id, err := keep.Send(ctx, "kept", 0)
			require.NoError(t, err)
			kept[id] = true
		}
		body := strings.Repeat("x", 1000)
		for i := 0; b.Health() == nil; i++ { // churn until a compaction has run and failed
			require.Less(t, i, 10000, "no compaction")
			if _, err := churn.Send(ctx, body, 0); err != nil {
				break
			}
			m, err := churn.Receive(ctx, 0)
			require.NoError(t, err)
			require.NoError(t, churn.Delete(ctx, m.ReceiptHandle))
			synctest.Wait() // a compaction started by this call has finished
		}
		require.ErrorIs(t, b.Health(), ErrJournal)
		require.ErrorIs(t, b.Health(), boom)
		_, err = keep.Send(ctx, "refused", 0)
		require.ErrorIs(t, err, ErrJournal)
		b.Close()

		fs.SetFault(nil)
		b, err = Open(ctx, "/d", withFS(fs))
		require.NoError(t, err)
		defer b.Close()
		require.Equal(t, kept, receiveIDs(t, b, "keep"))
	})
}

// receiveIDs receives every visible message of queue name and returns
// their ids.
func receiveIDs(t *testing.T, b *Broker, name string) map[string]bool {
	t.Helper()
	q, err := b.Queue(name)
	require.NoError(t, err)
	got := map[string]bool{}
	for {
		m, err := q.Receive(context.Background(), 0)
		if errors.Is(err, ErrNoMessage) {
			return got
		}
		require.NoError(t, err)
		got[m.ID] = true
	}
}
