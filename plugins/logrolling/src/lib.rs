//! The rolling stage of the logs pipeline: rate, error ratio and mean latency over this window
//! and `windows - 1` before it, read as declared context (see [`sqrtspace_kernels::logs::roll`]).

#[cfg(target_arch = "wasm32")]
mod component {
    use sqrtspace_kernels::logs::{self, RollingParams, roll, stat};
    use sqrtspace_sdk::ndarray::Array2;
    use sqrtspace_sdk::{Block, Error};

    fn context(params: &RollingParams) -> u32 {
        u32::try_from(params.windows.saturating_sub(1)).unwrap_or(u32::MAX)
    }

    fn rolling(block: &Block, params: &RollingParams) -> Result<Array2<f64>, Error> {
        if params.windows == 0 {
            return Err(Error::Params("windows must be at least 1".into()));
        }
        let stats = block.f64(0)?;
        if stats.ncols() != stat::COUNT {
            return Err(Error::Input(format!(
                "logrolling reads rows of {} window stats (from logstats), not {}",
                stat::COUNT,
                stats.ncols()
            )));
        }
        let rows: Vec<[f64; stat::COUNT]> = stats
            .rows()
            .into_iter()
            .map(|r| std::array::from_fn(|i| r[i]))
            .collect();
        let mut out = Array2::zeros((block.rows, roll::COUNT));
        for (i, mut dst) in out.rows_mut().into_iter().enumerate() {
            // Row `block.context_rows + i` is window `t0 + i`; its span starts up to
            // `windows - 1` rows earlier, as far as the context reaches.
            let end = block.context_rows + i + 1;
            let start = end.saturating_sub(params.windows);
            let first_window = block.t0 + i as u64 - (end - 1 - start) as u64;
            for (d, v) in dst
                .iter_mut()
                .zip(logs::rolling(&rows[start..end], first_window))
            {
                *d = v;
            }
        }
        Ok(out)
    }

    sqrtspace_sdk::export_stage!(
        rolling,
        name = "logrolling",
        version = "0.1.0",
        description =
            "rolling rate, error ratio, mean latency and unparsed ratio over `windows` windows",
        context_from = context
    );
}
