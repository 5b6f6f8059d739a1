//! Work spread over the machine's cores, for the stages of a compilation that are pure and
//! independent per file or per root: parsing, checking and linting. The results come back in
//! the order of the inputs, so nothing downstream can tell how the work was split.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Below this many items a batch runs on the calling thread: starting threads costs more
/// than a few small files take.
const MIN_ITEMS: usize = 8;

thread_local! {
    /// Set on the threads [`map`] starts: work they run that spreads again (the SQL of one
    /// file, while files are checked side by side) runs on them, as the cores are busy.
    static IN_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The cores this process may use, asked once: the standard library reads the cgroup's
/// quota files on every call, and a check asks several times.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// `f` applied to every item, on up to one thread per core; results in input order.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = cores().min(items.len() / MIN_ITEMS.max(1));
    if threads <= 1 || IN_WORKER.with(|w| w.get()) {
        return items.iter().map(f).collect();
    }
    // Items differ widely in cost (a 10,000-line file beside 20-line ones), so threads take
    // the next item as they finish rather than fixed shares. The calling thread works too,
    // rather than wait for the others.
    let next = AtomicUsize::new(0);
    let work = || {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            out.push((i, f(item)));
        }
        out
    };
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (1..threads)
            .map(|_| {
                scope.spawn(|| {
                    IN_WORKER.with(|w| w.set(true));
                    work()
                })
            })
            .collect();
        IN_WORKER.with(|w| w.set(true));
        let mut all = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        IN_WORKER.with(|w| w.set(false));
        if let Ok(own) = &mut all {
            own.reserve(items.len());
        }
        for w in workers {
            match (w.join(), &mut all) {
                (Ok(part), Ok(all)) => all.extend(part),
                (Ok(_), Err(_)) => {}
                // A worker panicked: re-raise it here, as if the work had run inline.
                (Err(p), _) => std::panic::resume_unwind(p),
            }
        }
        match all {
            Ok(all) => all,
            Err(p) => std::panic::resume_unwind(p),
        }
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Work done ahead of the calling thread: see [`ahead`].
pub(crate) struct Ahead<'a, T, R> {
    items: &'a [T],
    f: &'a (dyn Fn(&T) -> R + Sync),
    /// The next item no thread has looked at; items are claimed in input order.
    next: AtomicUsize,
    /// Set when the caller is done: workers stop claiming items.
    stop: AtomicBool,
    slots: Mutex<Vec<Slot<R>>>,
    /// Signalled whenever a slot becomes `Done` or `Failed`.
    ready: Condvar,
}

enum Slot<R> {
    /// Nobody has claimed the item.
    Open,
    /// A worker is computing it.
    Running,
    Done(R),
    /// `f` panicked on it; the panic is raised again on the thread that takes the item.
    Failed(Box<dyn std::any::Any + Send>),
    /// Taken (or claimed by the calling thread, which computes it itself).
    Gone,
}

impl<T, R> Ahead<'_, T, R> {
    fn slots(&self) -> MutexGuard<'_, Vec<Slot<R>>> {
        // No lock is held while `f` runs, so a poisoned lock still holds consistent slots.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims the next open item, if any is left: its index.
    fn claim(&self) -> Option<usize> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.items.len() {
                return None;
            }
            let mut slots = self.slots();
            if let Some(slot @ Slot::Open) = slots.get_mut(i) {
                *slot = Slot::Running;
                return Some(i);
            }
        }
    }

    /// Computes item `i` (claimed) and stores the result for whoever takes it.
    fn compute(&self, i: usize) {
        let Some(item) = self.items.get(i) else {
            return;
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.f)(item)));
        let mut slots = self.slots();
        if let Some(slot) = slots.get_mut(i) {
            *slot = match result {
                Ok(r) => Slot::Done(r),
                Err(p) => Slot::Failed(p),
            };
        }
        drop(slots);
        self.ready.notify_all();
    }

    /// The result for item `i`, once: computed by a worker, or here if no worker has claimed
    /// it yet. While a worker is still on it, this thread computes later items instead of
    /// waiting idle. `None` for an index out of range or taken before.
    pub(crate) fn take(&self, i: usize) -> Option<R> {
        let mut slots = self.slots();
        loop {
            let slot = slots.get_mut(i)?;
            match std::mem::replace(slot, Slot::Gone) {
                Slot::Done(r) => return Some(r),
                Slot::Failed(p) => {
                    drop(slots);
                    std::panic::resume_unwind(p)
                }
                Slot::Gone => return None,
                Slot::Open => {
                    drop(slots);
                    return self.items.get(i).map(self.f);
                }
                Slot::Running => {
                    *slot = Slot::Running;
                    drop(slots);
                    match self.claim() {
                        Some(j) => self.compute(j),
                        None => {
                            // Nothing left to help with: wait for the worker.
                            let mut waiting = self.slots();
                            while matches!(waiting.get(i), Some(Slot::Running)) {
                                waiting = self
                                    .ready
                                    .wait(waiting)
                                    .unwrap_or_else(PoisonError::into_inner);
                            }
                            drop(waiting);
                        }
                    }
                    slots = self.slots();
                }
            }
        }
    }
}

/// Runs `body` on the calling thread while workers apply `f` to `items` ahead of it, in input
/// order; `body` takes each result with [`Ahead::take`] when it needs it (computing it itself
/// if no worker has got there). For a stage whose serial part consumes a parallel part's
/// results in order: the two overlap instead of running one after the other. What `body`
/// never takes is dropped, and workers stop claiming items once `body` returns.
pub(crate) fn ahead<T: Sync, R: Send, O>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
    body: impl FnOnce(&Ahead<'_, T, R>) -> O,
) -> O {
    let ahead = Ahead {
        items,
        f: &f,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        slots: Mutex::new(items.iter().map(|_| Slot::Open).collect()),
        ready: Condvar::new(),
    };
    // The calling thread is busy with `body`, so every core but one gets a worker.
    let workers = cores().saturating_sub(1);
    if workers == 0 || items.len() < MIN_ITEMS || IN_WORKER.with(|w| w.get()) {
        return body(&ahead);
    }
    /// Stops the workers when `body` returns or unwinds.
    struct Stop<'s>(&'s AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                IN_WORKER.with(|w| w.set(true));
                while let Some(i) = ahead.claim() {
                    ahead.compute(i);
                }
            });
        }
        let _stop = Stop(&ahead.stop);
        body(&ahead)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_input_order() {
        let items: Vec<u64> = (0..1000).collect();
        let out = super::map(&items, |n| n * 2);
        assert_eq!(out, (0..1000).map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(super::map(&[] as &[u64], |n| *n), Vec::<u64>::new());
    }

    #[test]
    fn ahead_gives_every_result_once_in_any_order() {
        let items: Vec<u64> = (0..500).collect();
        let out = super::ahead(
            &items,
            |n| n * 3,
            |a| {
                // Out of order, twice, and past the end: each result once, then `None`.
                let mut got = Vec::new();
                for i in (0..500).rev() {
                    got.push(a.take(i));
                }
                assert_eq!(a.take(7), None);
                assert_eq!(a.take(500), None);
                got
            },
        );
        let want: Vec<Option<u64>> = (0..500).rev().map(|n| Some(n * 3)).collect();
        assert_eq!(out, want);
    }

    #[test]
    fn ahead_raises_a_panic_of_f_where_the_item_is_taken() {
        let items: Vec<u64> = (0..64).collect();
        let caught = std::panic::catch_unwind(|| {
            super::ahead(
                &items,
                |n| if *n == 40 { panic!("item 40") } else { *n },
                |a| (0..64).map(|i| a.take(i)).collect::<Vec<_>>(),
            )
        });
        assert!(caught.is_err());
        // Items never taken are not waited for beyond the one in hand.
        let few = super::ahead(&items, |n| *n, |a| a.take(3));
        assert_eq!(few, Some(3));
    }
}
