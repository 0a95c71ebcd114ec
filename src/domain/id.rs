//! Decimal, time-ordered ids like `220526087715684609`, unique across passlink processes.
//!
//! Layout of the 63-bit value: milliseconds since 2020-01-01 (41 bits), a node number (10 bits)
//! and a per-millisecond counter (12 bits). Each process leases its node number from the
//! database when it opens it (the store hands out 0, 1, …, 1023, 0, … in turn), so processes
//! sharing a database differ; without a database the number is drawn at random. Primary keys
//! still refuse an id used twice.

use std::sync::{Arc, Mutex};

use super::time::Clock;

const EPOCH_MILLIS: i64 = 1_577_836_800_000;
const NODE_BITS: u32 = 10;
const COUNTER_BITS: u32 = 12;

/// Generates ids; cheap to share between threads.
pub struct IdGenerator {
    clock: Arc<dyn Clock>,
    node: u64,
    last: Mutex<(i64, u64)>,
}

impl IdGenerator {
    /// Creates a generator with a node number drawn from the OS random source.
    pub fn new(clock: Arc<dyn Clock>) -> IdGenerator {
        let node = u64::from(super::secret::random_u16()) & ((1 << NODE_BITS) - 1);
        IdGenerator {
            clock,
            node,
            last: Mutex::new((0, 0)),
        }
    }

    /// Creates a generator with a given node number (only its low 10 bits count).
    pub fn with_node(clock: Arc<dyn Clock>, node: u16) -> IdGenerator {
        IdGenerator {
            clock,
            node: u64::from(node) & ((1 << NODE_BITS) - 1),
            last: Mutex::new((0, 0)),
        }
    }

    /// Returns the next id, larger than every id this generator returned before.
    pub fn next_id(&self) -> String {
        let now_millis = self.clock.now().as_millis() - EPOCH_MILLIS;
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (last_millis, counter) = *last;
        let (millis, counter) = if now_millis > last_millis {
            (now_millis, 0)
        } else if counter + 1 < (1 << COUNTER_BITS) {
            (last_millis, counter + 1)
        } else {
            // The counter ran out within one millisecond: borrow the next millisecond.
            (last_millis + 1, 0)
        };
        *last = (millis, counter);
        let id = ((millis.max(0) as u64) << (NODE_BITS + COUNTER_BITS))
            | (self.node << COUNTER_BITS)
            | counter;
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::SystemClock;

    #[test]
    fn ids_are_decimal_increasing_and_unique() {
        let generator = IdGenerator::new(Arc::new(SystemClock));
        let ids: Vec<u64> = (0..10_000)
            .map(|_| generator.next_id().parse().unwrap())
            .collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(
            ids[0] > 100_000_000_000_000_000,
            "id {} is too short",
            ids[0]
        );
    }
}
