//! Independent work on both cores (or as many as there are): documents are read, changed by
//! local steps and emitted independently of each other.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this much work (in bytes of the documents involved) one thread does it all: starting
/// threads would cost more than it saves (Helm and Argo CD start us on every render).
pub const MIN_BYTES: usize = 256 * 1024;

/// `work(i)` for every `i` in `0..sizes.len()`, results in that order. On several threads when
/// the total size is at least [`MIN_BYTES`]; largest items first, each thread taking the next
/// one, so a huge document near the end does not start last and finish long after the rest.
pub fn map<R: Send>(sizes: &[usize], work: impl Fn(usize) -> R + Sync) -> Vec<R> {
    map_from(MIN_BYTES, sizes, work)
}

/// [`map`], on several threads from `min_bytes` of work on.
pub fn map_from<R: Send>(
    min_bytes: usize,
    sizes: &[usize],
    work: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let total: usize = sizes.iter().sum();
    if threads < 2 || sizes.len() < 2 || total < min_bytes {
        return (0..sizes.len()).map(work).collect();
    }
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let next = AtomicUsize::new(0);
    let workers = threads.min(sizes.len());
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::with_capacity(sizes.len() / workers + 1);
                    while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                        done.push((i, work(i)));
                    }
                    done
                })
            })
            .collect();
        // Sized once: the results of every thread are held twice only while each is moved.
        let mut results = Vec::with_capacity(sizes.len());
        for w in workers {
            results.extend(
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        results
    });
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_their_order_on_one_thread_or_many() {
        let small = vec![1; 10];
        assert_eq!(
            super::map(&small, |i| i * 2),
            (0..10).map(|i| i * 2).collect::<Vec<_>>()
        );
        let large: Vec<usize> = (0..500).map(|i| 1_000 + (i * 7919) % 3_000).collect();
        assert_eq!(super::map(&large, |i| i), (0..500).collect::<Vec<_>>());
    }
}
