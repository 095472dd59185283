//! Quantiles and median absolute deviation of each spectrum, in Rust: the Wasm component of [`sqrtspace_kernels::stats`], the reference the JavaScript plugin in `plugins/stats-js` is tested against.
//!
//! The numeric code lives in `sqrtspace-kernels`, which the host's built-ins run natively; this
//! crate only adapts it to the plugin interface.

/// The Wasm component: rows of magnitudes in, quantiles and MAD per row out.
#[cfg(target_arch = "wasm32")]
mod component {
    use sqrtspace_kernels::stats;
    use sqrtspace_sdk::ndarray::Array2;
    use sqrtspace_sdk::{Block, Error};

    fn spectral_stats(block: &Block, params: &stats::Params) -> Result<Array2<f32>, Error> {
        params.check().map_err(Error::Params)?;
        let input = block.f32(0)?;
        if input.ncols() == 0 {
            return Err(Error::Input("spectral-stats needs non-empty rows".into()));
        }
        sqrtspace_sdk::map_rows(input, params.quantiles.len() + 1, |_, values, out| {
            stats::stats(values, params, out);
        })
    }

    sqrtspace_sdk::export_stage!(
        spectral_stats,
        name = "spectral-stats-rust",
        version = env!("CARGO_PKG_VERSION"),
        description = "quantiles and median absolute deviation of each spectrum (Rust)"
    );
}
