"""The write paths benchmarks/aws_model.py compares, each as what one invocation does.

- **shipped** (s3sizer/lambdas/batch.py today): the batch is cut into chunks that fit one
  transaction (each key, the totals, one point, and per touched prefix its totals and a point: at
  most 100 items, neighbouring keys together). Per chunk: one BatchGetItem (keys, totals, prefix
  totals), then one TransactWriteItems under the totals' and prefix totals' versions. A
  cancelled transaction re-reads the rows that moved and resubmits the whole transaction.
- **sharded-totals**: the same, but the totals and each prefix's totals are split into N rows;
  a chunk picks one row of each at random, and reads the other rows (eventually consistent) to
  write absolute history points.
- **journaled** (docs/scaling.md's earlier proposal): each chunk writes its keys and one delta
  item of its own, with no condition on any totals; after the batch one small transaction folds
  the batch's deltas into the totals and prefix totals, writes the points and deletes the deltas.
- **stream-fold**: one conditional write per key change (1 WRU for an item up to 1 KB, no
  transaction), after one BatchGetItem per chunk of the settings item and the versioned keys it
  changes (the condition is the key's revision as read); an unversioned key's PutItem is
  conditioned on the older sequencer its item holds, and reads nothing.
  The table's stream (new and old images) feeds a fold function, one batch per stream shard at a
  time (ParallelizationFactor 1) behind a batching window: per batch (s3sizer/lambdas/fold.py)
  it reads the bucket's settings and the shards' rows, and in one transaction adds the net
  change to its shard's own row of the bucket, which holds the busy prefixes' figures, under
  the row's last sequence number applied, with one history point for the bucket that carries
  the touched prefixes' figures, and an own point per prefix at most once a minute per shard.
  Nothing contends: every row has one writer.
- **lean-fold** (not built): stream-fold without the fold's transaction, each item under its
  own last sequence number, and prefixes hashed into groups of rows (LeanFold says what it
  writes).

Each `process` is a generator (it yields the seconds it waits) that returns
(records applied, records failed, EMF lines written).
"""

from __future__ import annotations

import math
from collections import Counter, deque

from benchmarks.aws_engine import POLL, TRACKER_ATTEMPTS, TRANSACTION_ITEMS, Model, units_for
from benchmarks.aws_limits import ASSUMED, STREAM_GET_RECORDS, WRITE_UNIT_KB

TW_FIXED, TW_PER = ASSUMED["TransactWriteItems: fixed part (s)"], ASSUMED["TransactWriteItems: per item (s)"]  # fmt: skip
BG_FIXED, BG_PER = ASSUMED["BatchGetItem: fixed part (s)"], ASSUMED["BatchGetItem: per key (s)"]
GET_ITEM = ASSUMED["GetItem (s)"]
UPDATE = ASSUMED["UpdateItem or PutItem, one item (s)"]
THREADS = ASSUMED["UpdateItems a function runs in parallel (threads)"]
STREAM_DELAY = ASSUMED["DynamoDB stream: write to record readable (s)"]
KB = WRITE_UNIT_KB.value  # a write unit outside a transaction
FOLD_BATCH = int(STREAM_GET_RECORDS.value)  # the fold mapping's BatchSize: one GetRecords' worth
ROW_BYTES = ASSUMED["a fold row of a bucket, without its prefixes (bytes)"]
PREFIX_BYTES = ASSUMED["one prefix's entry in a fold row (bytes)"]
POINT_BYTES = ASSUMED["a fold point of a bucket, without its prefixes (bytes)"]
POINT_PREFIX_BYTES = ASSUMED["one prefix's figures carried by a fold point (bytes)"]
# As fold_prefixes.py: a row holds the busy prefixes up to 4 KB (less 64 bytes of room for its
# numbers to grow); the idle ones leave, so a row holds what is busy. A prefix gets an own point
# per shard at most every 5 minutes.
ROW_PREFIXES = int((4096 - 64 - ROW_BYTES) // PREFIX_BYTES)
PREFIX_POINT_S = 300.0
PARTITION_ITEMS = 32


def plan_chunks(m: Model, n: int) -> list[tuple[int, tuple[int, ...]]]:
    """(keys, prefixes touched) per chunk for a batch of n keys over the busy prefixes."""
    if m.s.prefix_depth == 0:
        return cut_chunks([n], depth=0)
    return cut_chunks(m.spread(n, m.s.busy_prefixes), depth=m.s.prefix_depth)


def cut_chunks(per_prefix: list[int], depth: int) -> list[tuple[int, tuple[int, ...]]]:
    """As size_tracking.plan_chunks cuts a batch: neighbouring keys (prefix by prefix) while
    the transaction holds each key, the totals, a point, and per prefix its totals and a point."""
    if depth == 0:
        n, most = sum(per_prefix), TRANSACTION_ITEMS - 2
        return [(min(most, n - i), ()) for i in range(0, n, most)]
    chunks, keys, prefixes = [], 0, []
    for q, count in enumerate(per_prefix):
        while count:
            known = bool(prefixes) and prefixes[-1] == q
            room = TRANSACTION_ITEMS - 2 - 2 * (len(prefixes) + (not known)) - keys
            if room <= 0:
                chunks.append((keys, tuple(prefixes)))
                keys, prefixes = 0, []
                continue
            took = min(count, room)
            keys, count = keys + took, count - took
            if not known:
                prefixes.append(q)
    if keys:
        chunks.append((keys, tuple(prefixes)))
    return chunks


def transact(m: Model, reads: Counter, read_items: int, writes: Counter, items: int, rows):
    """One BatchGetItem, then TransactWriteItems under the rows' versions until it commits."""
    if not (yield from m.request(reads, write=False)):
        return False
    read_at = m.now
    yield m.latency(BG_FIXED + BG_PER * read_items)
    for attempt in range(TRACKER_ATTEMPTS):
        if not (yield from m.request(writes, write=True)):
            return False
        yield m.latency(TW_FIXED + TW_PER * items)
        moved = m.moved_since(rows, read_at)
        if not moved:
            m.commit(rows)
            return True
        m.out.conflicts += 1  # TransactionCanceledException: re-read what moved, resubmit all
        if not (yield from m.request({"B": len(moved)}, write=False)):
            return False
        read_at = m.now
        yield m.latency(GET_ITEM)
        yield m.backoff(attempt)
    return False


class Shipped:
    shards = 1

    def process(self, m: Model, n: int):
        applied = failed = emf = 0
        for keys, prefixes in plan_chunks(m, n):
            r = m.rng.randrange(self.shards)
            totals_pk, prefix_pk = ("B", "P") if self.shards == 1 else (f"B{r}", f"P{r}")
            reads = m.key_units(keys, m.key_rru) + Counter({totals_pk: 1})
            if prefixes:
                reads[prefix_pk] += len(prefixes)
            if self.shards > 1:  # the other rows, eventually consistent, for absolute points
                reads["rows"] += 0.5 * (self.shards - 1) * (1 + len(prefixes))
            writes = m.key_units(keys, 2 * m.key_wru) + Counter({totals_pk: 2})
            writes["B"] += 2  # the bucket's history point
            if prefixes:
                writes[prefix_pk] += 2 * len(prefixes)
                writes["HP"] += 2 * len(prefixes)  # each touched prefix's point
            rows = [("T", r)] + [("P", q, r) for q in prefixes]
            items = keys + 2 + 2 * len(prefixes)
            read_items = keys + 1 + len(prefixes)
            if (yield from transact(m, reads, read_items, writes, items, rows)):
                applied += keys
                emf += 1
                m.applied(keys)
            else:
                failed += keys  # the product goes on with the next chunk
        return applied, failed, emf


class ShardedTotals(Shipped):
    def __init__(self, shards: int):
        self.shards = shards


class Journaled:
    def __init__(self):
        self.pending_deltas = 0

    def process(self, m: Model, n: int):
        applied = failed = 0
        touched: set[int] = set()
        for keys, prefixes in plan_chunks(m, n):
            reads = m.key_units(keys, m.key_rru)
            writes = m.key_units(keys, 2 * m.key_wru) + Counter({"J": 2})
            if (yield from transact(m, reads, keys, writes, keys + 1, [])):
                applied += keys
                touched |= set(prefixes)
                self.pending_deltas += 1
                m.applied(keys)
            else:
                failed += keys
        emf = 0
        if self.pending_deltas:
            emf = yield from self.fold(m, sorted(touched))
        return applied, failed, emf

    def fold(self, m: Model, prefixes: list[int]):
        """Move the waiting deltas into the totals; on failure they wait for the next batch."""
        deltas = self.pending_deltas
        self.pending_deltas = 0
        reads = Counter({"B": 1, "P": len(prefixes)})
        writes = Counter({"B": 4, "P": 2 * len(prefixes), "HP": 2 * len(prefixes), "J": 2 * deltas})
        rows = [("T", 0)] + [("P", q, 0) for q in prefixes]
        items = 2 + 2 * len(prefixes) + deltas
        if (yield from transact(m, reads, 1 + len(prefixes), writes, items, rows)):
            return 1
        self.pending_deltas += deltas
        return 0


class StreamFold:
    def __init__(self, m: Model):
        per_shard = ASSUMED[
            "stream shards: one per 1,000 WRU/s of the table's throughput (one per partition)"
        ]
        self.shards = [deque() for _ in range(math.ceil(m.s.table_wru / per_shard))]
        self.pointed: dict[tuple[int, int], float] = {}  # (shard, prefix): its last own point
        self.rows_made: set[int] = set()

    def process(self, m: Model, n: int):
        # As the tracker's fold mode does it (key_writes.py): per chunk one BatchGetItem
        # (strongly consistent) of the bucket's settings item and of its versioned keys, then
        # one conditional write per key, in parallel; an unversioned key's PutItem needs
        # no read of its item.
        chunks = math.ceil(n / (TRANSACTION_ITEMS - 2))
        keys = n if self.reads_keys(m) else 0
        reads = m.key_units(keys, 1) + Counter({"B": chunks})
        if not (yield from m.request(reads, write=False)):
            return 0, n, 0
        yield m.latency(BG_FIXED + BG_PER * min(keys or 1, TRANSACTION_ITEMS))
        writes = m.key_units(n, m.key_wru)
        if not (yield from m.request(writes, write=True)):
            return 0, n, 0
        yield m.latency(UPDATE * math.ceil(n / THREADS))
        m.applied(n)
        for shard, count in zip(self.shards, m.spread(n, len(self.shards)), strict=True):
            if count:
                shard.append([count, m.now])
        return n, 0, 0

    def reads_keys(self, m: Model) -> bool:
        """The settings item is read per chunk (whether the bucket is tracked, its depth and
        its storage-classes switch); an unversioned key's item is not."""
        return m.s.versioned

    def start(self, m: Model, drained) -> None:
        for shard in self.shards:
            m.spawn(self.consumer(m, shard, drained))

    def consumer(self, m: Model, shard: deque, drained):
        """The stream mapping on one shard: one batch at a time, behind the batching window."""
        while True:
            if not shard:
                if drained():
                    return
                yield 5 * POLL
                continue
            ready = shard[0][1] + STREAM_DELAY
            if m.now < ready:
                yield ready - m.now
                continue
            close = ready + m.s.fold_window
            while m.now < close and sum(c for c, _ in shard) < FOLD_BATCH:
                yield min(5 * POLL, close - m.now)
            batch, room = [], FOLD_BATCH
            while shard and room and shard[0][1] + STREAM_DELAY <= m.now:
                count, written = shard[0]
                took = min(count, room)
                batch.append((took, written))
                room -= took
                shard[0][0] -= took
                if not shard[0][0]:
                    shard.popleft()
            while not (yield from self.fold(m, batch, id(shard))):
                yield 1.0  # a failed batch is retried, in order, before anything after it

    def fold(self, m: Model, batch: list[tuple[int, float]], shard: int = 0):
        """As fold.py and fold_apply.py do it, per batch and bucket: the settings and baseline
        items (GetItem each), one Query of the bucket's rows, one of its prefixes' partition
        (their figures before the step, for the points), and one TransactWriteItems (2 units a
        started KB an item): the shard's row, which holds the busy prefixes' figures while it
        fits one write unit (fold_prefixes.place), the bucket's point, which carries the
        touched prefixes' figures, and an own point for a prefix that has had none from this
        shard for a minute; a prefix the row cannot hold keeps its own row and point; a new
        row adds the settings item's check."""
        began, records = m.now, sum(c for c, _ in batch)
        m.out.lambda_requests += 1
        m.out.folds += 1
        m.invocation_logs(ASSUMED["the tracker's batch line (bytes)"] + m.emf_bytes)
        b = m.s.busy_prefixes if m.s.prefix_depth else 0
        touched = min(b, math.ceil(b * (1 - (1 - 1 / b) ** records) - 1e-9)) if b else 0
        yield m.latency(ASSUMED["Lambda invoke overhead, warm (s)"])
        held = min(b, ROW_PREFIXES)
        row_kb = (ROW_BYTES + PREFIX_BYTES * held) / 1024
        moved = m.rng.sample(range(b), touched) if touched else []
        own = [p for p in moved if p >= held]  # the busy prefixes past the row's room
        carried = len(moved) - len(own)
        point_kb = (POINT_BYTES + POINT_PREFIX_BYTES * carried) / 1024
        due = 0
        for p in moved:
            if p < held and m.now - self.pointed.get((shard, p), -math.inf) >= PREFIX_POINT_S:
                self.pointed[(shard, p)] = m.now
                due += 1
        new_row = shard not in self.rows_made
        self.rows_made.add(shard)
        yield m.latency(2 * GET_ITEM)
        shards_kb = row_kb * len(self.shards)
        # The prefixes' partition in one Query when it holds at most 32 items (one per prefix
        # once compacted), else one Query per touched prefix.
        whole = (m.s.bucket_prefixes or b) <= PARTITION_ITEMS
        queries = (1 if touched else 0) if whole else touched
        # ... and the rows once more after it, in case a compaction moved one meanwhile.
        rows_read = math.ceil(shards_kb / 4) * (2 if touched else 1)
        ok = yield from m.request({"B": 2 + rows_read, "P": queries}, write=False)
        if ok:
            yield m.latency(GET_ITEM * (1 + math.ceil(queries / THREADS)))
            row_units = 2 * units_for(row_kb, KB) + 2 * units_for(point_kb, KB) + 2 * new_row
            writes = Counter({"B": row_units, "P": 2 * len(own), "HP": 2 * (due + len(own))})
            ok = yield from m.request(writes, write=True)
            yield m.latency(TW_FIXED + TW_PER * (2 + new_row + due + 2 * len(own)))
        m.out.gb_seconds += (m.now - began) * 0.125  # the fold needs little memory: 128 MB
        if ok:
            m.out.lags.extend((m.now - written, count) for count, written in batch)
            m.out.finished_at = max(m.out.finished_at, m.now)
        return ok


class LeanFold(StreamFold):
    """Not built: stream-fold's row and point written without a transaction (docs/scaling.md).

    - The tracker's key writes are stream-fold's (an unversioned key written without a read).
    - The fold writes no transaction, each item under its own condition on the last sequence
      number it holds (which makes a retry idempotent item by item): per batch, its shard's row
      of the bucket, the row of each *group* of prefixes it touched, and one point that carries
      the touched prefixes' figures. 1 unit a KB each, not 2 an item.
    - A bucket of up to ``LEAN_PREFIXES_IN_ROW`` prefixes keeps them in its own row. A bucket of
      more hashes each prefix to one of ``ceil(prefixes / LEAN_PREFIXES_PER_GROUP)`` groups:
      an UpdateItem is billed on the larger of the item's sizes before and after it, and one
      row holding every prefix of a bucket of 1,000 would cost about 60 units a fold. A hash
      fills some groups past 1 KB: those rows cost what they hold.
    - The rows of a group (one per shard) sort together: one Query reads them, rounded up to
      whole units as each Query is.
    """

    def __init__(self, m: Model):
        super().__init__(m)
        held = (m.s.bucket_prefixes or m.s.busy_prefixes) if m.s.prefix_depth else 0
        self.held = held
        self.group_of: list[int] = []  # of each busy prefix
        self.group_size: list[int] = []
        if held > LEAN_PREFIXES_IN_ROW:
            groups = math.ceil(held / LEAN_PREFIXES_PER_GROUP)
            placed = [m.rng.randrange(groups) for _ in range(held)]  # the hash
            self.group_size = [placed.count(g) for g in range(groups)]
            self.group_of = placed[: m.s.busy_prefixes]

    def fold(self, m: Model, batch: list[tuple[int, float]], shard: int = 0):
        began, records = m.now, sum(c for c, _ in batch)
        m.out.lambda_requests += 1
        m.out.folds += 1
        m.invocation_logs(ASSUMED["the tracker's batch line (bytes)"] + m.emf_bytes)
        b = m.s.busy_prefixes if m.s.prefix_depth else 0
        touched = min(b, math.ceil(b * (1 - (1 - 1 / b) ** records) - 1e-9)) if b else 0
        yield m.latency(ASSUMED["Lambda invoke overhead, warm (s)"])
        base, each = ROW_BYTES, PREFIX_BYTES
        point_kb = (POINT_BYTES + POINT_PREFIX_BYTES * touched) / 1024
        shards = len(self.shards)
        if self.group_of:
            bucket_kb = base / 1024
            groups = {self.group_of[i] for i in m.rng.sample(range(b), touched)}
            group_kb = [(base + each * self.group_size[g]) / 1024 for g in groups]
        else:  # the prefixes, if any, in the bucket's own row
            bucket_kb, group_kb = (base + each * self.held) / 1024, []
        # As stream-fold: the settings and baseline items, then every shard's row of the bucket
        # (one Query) and of each touched group (one Query each), side by side.
        yield m.latency(GET_ITEM * (1 + math.ceil((1 + len(group_kb)) / THREADS)))
        reads = 2 + math.ceil(shards * bucket_kb / 4)
        reads += sum(math.ceil(shards * kb / 4) for kb in group_kb)
        ok = yield from m.request({"B": reads}, write=False)
        if ok:
            rows = units_for(bucket_kb, KB) + sum(units_for(kb, KB) for kb in group_kb)
            writes = {"B": rows, "HP": units_for(point_kb, KB)}
            ok = yield from m.request(Counter(writes), write=True)
            yield m.latency(UPDATE * math.ceil((2 + len(group_kb)) / THREADS))
        m.out.gb_seconds += (m.now - began) * 0.125
        if ok:
            m.out.lags.extend((m.now - written, count) for count, written in batch)
            m.out.finished_at = max(m.out.finished_at, m.now)
        return ok


LEAN_PREFIXES_IN_ROW = int((1024 - ROW_BYTES) // PREFIX_BYTES)  # within 1 KB: one write unit
LEAN_PREFIXES_PER_GROUP = 8  # on average: a hash overfills some, and few past the row's room


def make(m: Model):
    s = m.s
    if s.design == "shipped":
        return Shipped()
    if s.design == "sharded-totals":
        return ShardedTotals(s.totals_shards)
    if s.design == "journaled":
        return Journaled()
    if s.design == "stream-fold":
        return StreamFold(m)
    if s.design == "lean-fold":
        return LeanFold(m)
    raise ValueError(f"unknown design {s.design!r}")
