//! The per-window stage of the logs pipeline: counts, sums and exact quantiles of a window's
//! parsed lines (see [`sqrtspace_kernels::logs::stat`]).

#[cfg(target_arch = "wasm32")]
mod component {
    use sqrtspace_kernels::logs::{field, stat, window_stats};
    use sqrtspace_sdk::ndarray::Array2;
    use sqrtspace_sdk::{Block, Error, NoParams};

    fn stats(block: &Block, _: &NoParams) -> Result<Array2<f64>, Error> {
        let lines = block.f64(0)?;
        if block.layout(0).and_then(|l| l.row_shape.last()) != Some(&field::COUNT) {
            return Err(Error::Input(format!(
                "logstats reads rows of parsed lines (`window x {}`, from logparse)",
                field::COUNT
            )));
        }
        let mut scratch = Vec::new();
        sqrtspace_sdk::map_rows(lines, stat::COUNT, |_, row, out| {
            out.copy_from_slice(&window_stats(row, &mut scratch));
        })
    }

    sqrtspace_sdk::export_stage!(
        stats,
        name = "logstats",
        version = "0.1.0",
        description = "per window: lines, unparsed, kept, 5xx, latency sum, time span, p50/p95/p99"
    );
}
