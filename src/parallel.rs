//! Work spread over the machine's cores, for the stages of a compilation that are pure and
//! independent per file or per root: parsing, checking and linting. The results come back in
//! the order of the inputs, so nothing downstream can tell how the work was split.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many items a batch runs on the calling thread: starting threads costs more
/// than a few small files take.
const MIN_ITEMS: usize = 8;

thread_local! {
    /// Set on the threads [`map`] starts: work they run that spreads again (the SQL of one
    /// file, while files are checked side by side) runs on them, as the cores are busy.
    static IN_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `f` applied to every item, on up to one thread per core; results in input order.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(items.len() / MIN_ITEMS.max(1));
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

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_input_order() {
        let items: Vec<u64> = (0..1000).collect();
        let out = super::map(&items, |n| n * 2);
        assert_eq!(out, (0..1000).map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(super::map(&[] as &[u64], |n| *n), Vec::<u64>::new());
    }
}
