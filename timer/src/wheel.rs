//! The timer wheel: every pending sleep of one runtime, hashed by deadline
//! into 6 levels of 64 slots (level `l` slots are `64^l` ms wide, about 2.2
//! years in all), with O(1) insert and remove and slot-by-slot expiry.
//! Deadlines beyond the wheel's window wait in a "far" list, re-examined at
//! the earliest of them.
//!
//! Each slot is an intrusive doubly linked list threaded through a slab, so
//! a dropped sleep is unlinked at once (a server whose request timeouts are
//! almost always cancelled must not accumulate dead entries). An entry far
//! in the future sits in a coarse slot and moves to finer levels as time
//! approaches it (at most once per level).
//!
//! Deadlines are kept to the nanosecond: an entry fires only once
//! `now >= deadline`, and the entries firing together are woken in
//! deadline order.

use slab::Slab;
use std::task::Waker;
use std::time::{Duration, Instant};

/// Width of a level-0 slot: the timers' resolution.
pub(crate) const TICK_NS: u64 = 1_000_000;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const LEVELS: usize = 6;
/// Index of the far list in `Wheel::levels` (it uses slot 0 only).
const FAR: usize = LEVELS;
const NIL: u32 = u32::MAX;

/// One pending sleep (freed when it fires or is removed).
#[derive(Debug)]
struct Entry {
    /// Deadline in nanoseconds since the epoch.
    when: u64,
    prev: u32,
    next: u32,
    /// Where the entry is linked, or `None` once it has fired.
    at: Option<(u8, u8)>,
    waker: Option<Waker>,
}

#[derive(Debug)]
struct Level {
    /// Bit `s` is set iff slot `s` is non-empty.
    occupied: u64,
    heads: [u32; SLOTS],
}

/// A hierarchical timer wheel over a slab of entries.
#[derive(Debug)]
pub(crate) struct Wheel {
    epoch: Instant,
    /// Ticks (ms since the epoch) fully processed: every entry due at or
    /// before `elapsed` has fired.
    elapsed: u64,
    entries: Slab<Entry>,
    levels: Vec<Level>,
    pending: usize,
    /// A tick at or before the earliest deadline in the far list.
    far_min: u64,
    /// Scratch for ordering the entries of one expiry by deadline.
    due: Vec<(u64, u32)>,
}

impl Wheel {
    pub(crate) fn new() -> Wheel {
        Wheel {
            epoch: Instant::now(),
            elapsed: 0,
            entries: Slab::new(),
            levels: (0..=LEVELS)
                .map(|_| Level {
                    occupied: 0,
                    heads: [NIL; SLOTS],
                })
                .collect(),
            pending: 0,
            far_min: u64::MAX,
            due: Vec::new(),
        }
    }

    /// `instant` in nanoseconds since the epoch, clamped to the epoch.
    pub(crate) fn to_ns(&self, instant: Instant) -> u64 {
        let ns = instant.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(ns).unwrap_or(u64::MAX).min(u64::MAX / 2)
    }

    /// The instant `ns` nanoseconds after the epoch.
    pub(crate) fn to_instant(&self, ns: u64) -> Instant {
        self.epoch + Duration::from_nanos(ns)
    }

    /// The current time in nanoseconds since the epoch.
    pub(crate) fn now_ns(&self) -> u64 {
        self.to_ns(Instant::now())
    }

    /// Adds an entry due at `when` (ns); returns its key.
    pub(crate) fn insert(&mut self, when: u64, waker: Waker) -> usize {
        let key = self.entries.insert(Entry {
            when,
            prev: NIL,
            next: NIL,
            at: None,
            waker: Some(waker),
        });
        assert!(key < NIL as usize, "ringloop: more than 4 billion timers");
        self.link(key as u32);
        self.pending += 1;
        key
    }

    /// Removes the pending entry `key`. The caller must know it has not
    /// fired: a fired entry is freed by [`Wheel::fire`] and its key may
    /// already name another entry.
    pub(crate) fn remove(&mut self, key: usize) {
        debug_assert!(self.entries[key].at.is_some(), "removing a fired entry");
        self.unlink(key as u32);
        self.pending -= 1;
        self.entries.remove(key);
    }

    /// Stores `waker` to be woken when the pending entry `key` fires.
    pub(crate) fn set_waker(&mut self, key: usize, waker: &Waker) {
        match &mut self.entries[key].waker {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
    }

    /// Number of entries not fired yet.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// When the wheel next has work (ns since the epoch, on the 1 ms grid):
    /// firing entries or moving them to a finer level. `None` when empty.
    pub(crate) fn next(&self) -> Option<u64> {
        self.next_expiry().map(|(tick, _, _)| tick * TICK_NS)
    }

    /// Fires every entry due at or before `now` (ns): frees it and moves its
    /// waker into `wakers`, in deadline order.
    pub(crate) fn fire(&mut self, now: u64, wakers: &mut Vec<Waker>) {
        let now_tick = now / TICK_NS;
        while let Some((tick, level, slot)) = self.next_expiry() {
            if tick > now_tick {
                break;
            }
            self.elapsed = tick;
            let mut key = self.take_slot(level, slot);
            while key != NIL {
                let next = self.entries[key as usize].next;
                let when = self.entries[key as usize].when;
                if when <= now {
                    self.entries[key as usize].at = None;
                    self.pending -= 1;
                    self.due.push((when, key));
                } else {
                    self.link(key);
                }
                key = next;
            }
        }
        if now_tick > self.elapsed {
            self.elapsed = now_tick;
        }
        self.due.sort_unstable();
        for (_, key) in self.due.drain(..) {
            wakers.extend(self.entries.remove(key as usize).waker);
        }
    }

    /// The level and slot for an entry due at tick `when`, seen from
    /// `elapsed`: the lowest level whose window (aligned to its width)
    /// holds both, so the slot is never behind the current one. Deadlines in
    /// another top-level window go to the far list.
    fn position(&self, when: u64) -> (usize, usize) {
        let when = when.max(self.elapsed);
        let masked = (self.elapsed ^ when) | (SLOTS as u64 - 1);
        let level = ((63 - masked.leading_zeros()) / SLOT_BITS) as usize;
        if level >= LEVELS {
            return (FAR, 0);
        }
        let slot = ((when >> (level as u32 * SLOT_BITS)) as usize) & (SLOTS - 1);
        (level, slot)
    }

    fn link(&mut self, key: u32) {
        // The tick at whose end the entry is due: ceil(when / tick).
        let when_tick = self.entries[key as usize].when.div_ceil(TICK_NS);
        let (level, slot) = self.position(when_tick);
        if level == FAR {
            self.far_min = self.far_min.min(when_tick);
        }
        let head = self.levels[level].heads[slot];
        if head != NIL {
            self.entries[head as usize].prev = key;
        }
        let entry = &mut self.entries[key as usize];
        entry.prev = NIL;
        entry.next = head;
        entry.at = Some((level as u8, slot as u8));
        self.levels[level].heads[slot] = key;
        self.levels[level].occupied |= 1 << slot;
    }

    fn unlink(&mut self, key: u32) {
        let entry = &self.entries[key as usize];
        let (prev, next) = (entry.prev, entry.next);
        let (level, slot) = entry
            .at
            .map(|(l, s)| (l as usize, s as usize))
            .expect("linked");
        if prev == NIL {
            self.levels[level].heads[slot] = next;
            if next == NIL {
                self.levels[level].occupied &= !(1 << slot);
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    /// Detaches a whole slot's list and returns its head.
    fn take_slot(&mut self, level: usize, slot: usize) -> u32 {
        if level == FAR {
            // Relinking recomputes it from the entries that stay far.
            self.far_min = u64::MAX;
        }
        let lvl = &mut self.levels[level];
        lvl.occupied &= !(1 << slot);
        std::mem::replace(&mut lvl.heads[slot], NIL)
    }

    /// The earliest (tick, level, slot) holding entries: the tick at which
    /// that slot must be processed.
    fn next_expiry(&self) -> Option<(u64, usize, usize)> {
        if self.pending == 0 {
            return None;
        }
        let far =
            (self.levels[FAR].occupied != 0).then(|| (self.far_min.max(self.elapsed), FAR, 0));
        for (level, lvl) in self.levels[..LEVELS].iter().enumerate() {
            if lvl.occupied == 0 {
                continue;
            }
            let shift = level as u32 * SLOT_BITS;
            let now_slot = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            // Slots behind `now_slot` are empty: `position` never uses them.
            let ahead = lvl.occupied >> now_slot << now_slot;
            debug_assert_eq!(
                ahead, lvl.occupied,
                "an occupied slot is behind the current one"
            );
            let slot = ahead.trailing_zeros() as usize;
            let level_start = self.elapsed >> (shift + SLOT_BITS) << (shift + SLOT_BITS);
            let tick = (level_start + ((slot as u64) << shift)).max(self.elapsed);
            return match far {
                Some(f) if f.0 < tick => Some(f),
                _ => Some((tick, level, slot)),
            };
        }
        far
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker;
    use proptest::prelude::*;

    /// Deadlines spread over every level: microseconds to years.
    fn when() -> impl Strategy<Value = u64> {
        prop_oneof![
            0u64..5 * TICK_NS,
            0u64..100 * TICK_NS,
            0u64..10_000 * TICK_NS,
            0u64..(1 << 40) * TICK_NS,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Any mix of inserts, removes and firings at increasing times fires
        /// every live entry whose deadline, rounded up to the grid, has come,
        /// never one before its deadline; and `next()` is never later than
        /// the earliest deadline's grid step.
        #[test]
        fn fires_exactly_the_due_entries(
            first in proptest::collection::vec(when(), 1..100),
            later in proptest::collection::vec(when(), 0..50),
            removes in proptest::collection::vec(any::<prop::sample::Index>(), 0..40),
            steps in proptest::collection::vec(prop_oneof![0u64..3 * TICK_NS, 0u64..200 * TICK_NS, 0u64..(1 << 38) * TICK_NS], 1..30),
        ) {
            let mut wheel = Wheel::new();
            let mut live: Vec<(usize, u64)> =
                first.iter().map(|&w| (wheel.insert(w, noop_waker()), w)).collect();
            let mut later = later.into_iter();
            let mut removes = removes.into_iter();
            let mut now = 0u64;
            for step in steps {
                // `live` holds exactly the pending entries here.
                let target = now + step;
                if let Some(n) = wheel.next() {
                    let earliest = live.iter().map(|(_, w)| *w).min().expect("pending entries");
                    prop_assert!(n <= earliest.div_ceil(TICK_NS) * TICK_NS, "next {} after the earliest deadline {}", n, earliest);
                }
                now = target;
                let mut wakers = Vec::new();
                wheel.fire(now, &mut wakers);
                let mut fired = 0;
                for &(key, when) in &live {
                    let is_fired = !wheel.entries.contains(key);
                    // Never early; late by less than one grid step at most.
                    if is_fired {
                        prop_assert!(when <= now, "entry due {} fired early at {}", when, now);
                        fired += 1;
                    }
                    if when.div_ceil(TICK_NS) * TICK_NS <= now {
                        prop_assert!(is_fired, "entry due {} not fired at {}", when, now);
                    }
                }
                prop_assert_eq!(wakers.len(), fired);
                if let Some(n) = wheel.next() {
                    prop_assert!(n / TICK_NS > now / TICK_NS, "work at {} left behind at {}", n, now);
                }
                // Fired entries are freed by the wheel (their keys may be reused).
                live.retain(|(k, _)| wheel.entries.contains(*k));
                if let Some(w) = later.next() {
                    let w = now + w;
                    live.push((wheel.insert(w, noop_waker()), w));
                }
                if let Some(r) = removes.next() {
                    if !live.is_empty() {
                        let (key, _) = live.swap_remove(r.index(live.len()));
                        wheel.remove(key);
                    }
                }
                let unfired = live.len();
                prop_assert_eq!(wheel.pending(), unfired);
            }
        }
    }

    /// Entries firing together are woken in deadline order.
    #[test]
    fn one_batch_wakes_in_deadline_order() {
        use std::sync::{Arc, Mutex};
        use std::task::Wake;
        struct Log(Arc<Mutex<Vec<u64>>>, u64);
        impl Wake for Log {
            fn wake(self: Arc<Self>) {
                self.0.lock().unwrap().push(self.1);
            }
        }
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = Wheel::new();
        for when in [900_000u64, 100, 500_000, 3 * TICK_NS, 70 * TICK_NS] {
            wheel.insert(when, Waker::from(Arc::new(Log(log.clone(), when))));
        }
        let mut wakers = Vec::new();
        wheel.fire(80 * TICK_NS, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
        assert_eq!(
            *log.lock().unwrap(),
            [100, 500_000, 900_000, 3 * TICK_NS, 70 * TICK_NS]
        );
    }
}
