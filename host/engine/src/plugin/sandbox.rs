//! The sandbox around every plugin call: a memory cap per instance (a `ResourceLimiter` that
//! refuses growth past it and remembers that it did) and traps turned into messages that say
//! which limit was hit, which call trapped and what the plugin imports.

use std::time::Duration;

use wasmtime::{ResourceLimiter, Trap};

use super::contract::import_hint;
use super::plugin_text;
use crate::spec::ByteSize;

/// What a failed call says: the memory cap it hit, the deadline it ran past, or the trap,
/// with a hint at the likely cause.
pub(super) fn trap_message(
    what: &str,
    trap: &wasmtime::Error,
    limiter: &Limiter,
    deadline: Duration,
    imports: &[String],
) -> String {
    if let Some(asked) = limiter.refused {
        format!(
            "{what} exceeded the memory limit of {} (asked for {})",
            ByteSize(limiter.memory_cap as u64),
            ByteSize(asked as u64)
        )
    } else if trap.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        format!(
            "{what} ran past its deadline of {} ms",
            deadline.as_millis()
        )
    } else {
        let unreachable = trap.downcast_ref::<Trap>() == Some(&Trap::UnreachableCodeReached);
        let hint = if !imports.is_empty() {
            import_hint(imports)
        } else if unreachable {
            " (a Rust plugin that panics ends this way)".into()
        } else {
            String::new()
        };
        format!(
            "{what} trapped{hint}: {}",
            plugin_text(&trap.root_cause().to_string())
        )
    }
}

/// Refuses memory growth past the cap, and remembers that it did.
pub(super) struct Limiter {
    pub(super) memory_cap: usize,
    pub(super) refused: Option<usize>,
    /// Linear memory the instance has grown to.
    pub(super) grown: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.refused = Some(desired);
            wasmtime::bail!("memory limit reached");
        }
        self.grown = self.grown.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}
