//! The block cache: a byte-bounded LRU of `(stage, block)` outputs, so a stage read by
//! several stages (a diamond) or with context (the previous block again) is computed once.
//! It counts every byte it holds, never holds more than its cap, and counts what it evicts.

use std::sync::Arc;

use lru::LruCache;
use serde::{Deserialize, Serialize};

use crate::plan::NodeId;
use crate::tensor::Tensor;

/// Counters of the block cache of a sqrt run (the byte-bounded LRU of blocks it reuses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Lookups that found their block.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Blocks inserted.
    pub inserts: u64,
    /// Blocks pushed out to make room.
    pub evictions: u64,
    /// Bytes of the blocks pushed out.
    pub evicted_bytes: u64,
    /// Blocks not kept because alone they exceed the cap.
    pub rejected: u64,
    /// Blocks dropped because a sequential run had moved past every reader of them.
    pub retired: u64,
    /// Most bytes held at once.
    pub peak_bytes: u64,
}

/// Key of a cached block: the node and the block index.
pub type BlockKey = (NodeId, u64);

/// A least-recently-used map of blocks with a cap in bytes.
#[derive(Debug)]
pub struct BlockCache {
    entries: LruCache<BlockKey, Arc<Tensor>>,
    bytes: u64,
    cap: u64,
    stats: CacheStats,
}

impl BlockCache {
    /// An empty cache holding at most `cap` bytes.
    pub fn new(cap: u64) -> BlockCache {
        BlockCache {
            entries: LruCache::unbounded(),
            bytes: 0,
            cap,
            stats: CacheStats::default(),
        }
    }

    /// The block for `key`, marked as most recently used.
    pub fn get(&mut self, key: BlockKey) -> Option<Arc<Tensor>> {
        match self.entries.get(&key) {
            Some(block) => {
                self.stats.hits += 1;
                Some(Arc::clone(block))
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Keeps `block` under `key`, evicting least recently used blocks to stay under the cap.
    /// A block larger than the whole cap is not kept.
    pub fn put(&mut self, key: BlockKey, block: Arc<Tensor>) {
        let size = block.nbytes() as u64;
        if let Some(old) = self.entries.pop(&key) {
            self.bytes -= old.nbytes() as u64;
        }
        if size > self.cap {
            self.stats.rejected += 1;
            return;
        }
        while self.bytes + size > self.cap {
            match self.entries.pop_lru() {
                Some((_, evicted)) => {
                    let freed = evicted.nbytes() as u64;
                    self.bytes -= freed;
                    self.stats.evictions += 1;
                    self.stats.evicted_bytes += freed;
                }
                None => break,
            }
        }
        self.entries.put(key, block);
        self.bytes += size;
        self.stats.inserts += 1;
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.bytes);
    }

    /// Drops every block whose index is below `first`: a sequential sweep calls this once it
    /// has moved past every reader of those blocks, so the cache holds live blocks, not the
    /// history of the stream.
    pub fn retire_before(&mut self, first: u64) {
        let dead: Vec<BlockKey> = self
            .entries
            .iter()
            .filter(|(key, _)| key.1 < first)
            .map(|(key, _)| *key)
            .collect();
        for key in dead {
            if let Some(block) = self.entries.pop(&key) {
                self.bytes -= block.nbytes() as u64;
                self.stats.retired += 1;
            }
        }
    }

    /// Bytes held now.
    #[cfg(test)]
    fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Blocks held now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block(floats: usize) -> Arc<Tensor> {
        Arc::new(Tensor::new(1, vec![floats], vec![0.0f32; floats]).expect("valid"))
    }

    #[test]
    fn evicts_least_recently_used_first_and_counts() {
        let mut cache = BlockCache::new(300);
        cache.put((1, 0), block(25)); // 100 bytes each
        cache.put((1, 1), block(25));
        cache.put((1, 2), block(25));
        assert!(cache.get((1, 0)).is_some()); // 0 is now most recent
        cache.put((1, 3), block(25)); // evicts 1
        assert!(cache.get((1, 1)).is_none());
        assert!(cache.get((1, 2)).is_some());
        assert!(cache.get((1, 0)).is_some());
        let stats = cache.stats();
        assert_eq!(
            (
                stats.hits,
                stats.misses,
                stats.evictions,
                stats.evicted_bytes
            ),
            (3, 1, 1, 100)
        );
        assert_eq!(cache.bytes(), 300);
    }

    #[test]
    fn retiring_drops_only_older_blocks() {
        let mut cache = BlockCache::new(1000);
        for b in 0..5 {
            cache.put((1, b), block(10));
            cache.put((2, b), block(10));
        }
        cache.retire_before(3);
        assert_eq!(
            (cache.len(), cache.bytes(), cache.stats().retired),
            (4, 160, 6)
        );
        assert!(cache.get((1, 2)).is_none());
        assert!(cache.get((2, 3)).is_some());
    }

    #[test]
    fn replacing_a_key_does_not_double_count_and_oversize_is_rejected() {
        let mut cache = BlockCache::new(100);
        cache.put((0, 0), block(10));
        cache.put((0, 0), block(20));
        assert_eq!((cache.bytes(), cache.len()), (80, 1));
        cache.put((0, 1), block(26));
        assert_eq!(cache.stats().rejected, 1);
        assert_eq!(cache.bytes(), 80);
    }

    proptest! {
        /// Whatever is put and looked up, the bytes held match the blocks held and never
        /// exceed the cap.
        #[test]
        fn never_exceeds_its_cap(
            cap in 0u64..2000,
            ops in proptest::collection::vec((0usize..4, 0u64..12, 0usize..200), 1..200),
        ) {
            let mut cache = BlockCache::new(cap);
            let mut shadow = std::collections::HashMap::new();
            for (node, b, floats) in ops {
                if floats % 3 == 0 {
                    let hit = cache.get((node, b));
                    if let Some(hit) = hit {
                        prop_assert_eq!(hit.nbytes(), *shadow.get(&(node, b)).unwrap_or(&usize::MAX));
                    }
                } else {
                    let blk = block(floats);
                    shadow.insert((node, b), blk.nbytes());
                    cache.put((node, b), blk);
                }
                prop_assert!(cache.bytes() <= cap);
                prop_assert!(cache.stats().peak_bytes <= cap);
            }
        }
    }
}
